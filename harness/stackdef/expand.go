package stackdef

import (
	"fmt"
	"regexp"
	"strings"
)

// Vars is what a definition's placeholders expand to when a stack starts:
// ${database.host}, ${database.port}, ${database.name}, ${database.user},
// ${database.password}, ${database.url} (the superuser's URL of the
// database, as reached on the stack's network) and ${secret.NAME}, a secret
// of the run (the same in every stack of one run, so that a restored
// database's roles still log in).
type Vars struct {
	Database map[string]string // host, port, name, user, password, url
	Secret   func(name string) string
}

var placeholderRE = regexp.MustCompile(`\$\{([^}]*)\}`)

var databaseFields = []string{"host", "port", "name", "user", "password", "url"}

var secretRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)

// placeholderProblems names the placeholders of s that no stack can expand.
func placeholderProblems(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		if !knownPlaceholder(m[1]) {
			out = append(out, fmt.Sprintf("unknown placeholder ${%s}; want ${database.%s} or ${secret.NAME}",
				m[1], strings.Join(databaseFields, "}, ${database.")))
		}
	}
	if strings.Count(s, "${") != len(placeholderRE.FindAllString(s, -1)) {
		out = append(out, "an unclosed ${: write placeholders as ${database.url}")
	}
	return out
}

func knownPlaceholder(p string) bool {
	if name, ok := strings.CutPrefix(p, "database."); ok {
		for _, f := range databaseFields {
			if name == f {
				return true
			}
		}
		return false
	}
	if name, ok := strings.CutPrefix(p, "secret."); ok {
		return secretRE.MatchString(name)
	}
	return false
}

// Expand replaces the placeholders of s. Definitions are checked when they
// are parsed, so every placeholder is known.
func (v Vars) Expand(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		p := m[2 : len(m)-1]
		if name, ok := strings.CutPrefix(p, "database."); ok {
			return v.Database[name]
		}
		if name, ok := strings.CutPrefix(p, "secret."); ok && v.Secret != nil {
			return v.Secret(name)
		}
		return m
	})
}
