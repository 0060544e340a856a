package report

import "strings"

// Stylesheet returns the CSS of index.html (the contents of its <style>
// element), so that other pages of a run, such as the live drill page, share
// its look and follow it when it changes.
func Stylesheet() string {
	_, css, ok := strings.Cut(pageTemplate, "<style>")
	if !ok {
		return ""
	}
	css, _, _ = strings.Cut(css, "</style>")
	return css
}
