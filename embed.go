// Package firedrill embeds the project's fixtures into every binary that needs them:
// the image recipes and the reference server's source (whose hashes name the images),
// the data profiles, and the module files that pin the server's dependencies. With
// them a test binary or the CLI finds its images and profiles from any directory.
package firedrill

import "embed"

// Sources holds go.mod, go.sum and the fixtures: images/ (recipes), syncd/ (the
// reference server's source) and profiles/ (data profiles).
//
//go:embed go.mod go.sum fixtures/images fixtures/syncd fixtures/profiles
var Sources embed.FS
