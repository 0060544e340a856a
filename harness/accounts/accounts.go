// Package accounts reads and writes users files (the accounts firedrill logs in
// as) and creates accounts on the reference server through its admin API.
//
// A users file is CSV, one account per line: username,password. A first line
// "username,password" is a header and is skipped; it is optional. Lines starting
// with '#' are comments and blank lines are ignored. Fields may be quoted as in
// CSV ("pass,word" holds a comma). User names are trimmed of surrounding spaces;
// passwords are taken literally.
package accounts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"

	"github.com/firedrill/firedrill/harness/seed"
	"github.com/firedrill/firedrill/harness/workload/gen"
)

// Account is one user's credentials.
type Account struct {
	Username string
	Password string
}

// ReadFile reads the users file at path.
func ReadFile(path string) ([]Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a users file; name labels errors, which give the line number and
// what is wrong.
func Parse(r io.Reader, name string) ([]Account, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []Account
	seen := map[string]int{}
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("parse users file %s: line %d: %v", name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("parse users file %s: %w", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if first {
			first = false
			if len(rec) == 2 && strings.EqualFold(strings.TrimSpace(rec[0]), "username") &&
				strings.EqualFold(strings.TrimSpace(rec[1]), "password") {
				continue
			}
		}
		if len(rec) != 2 {
			return nil, fmt.Errorf("parse users file %s: line %d: %d fields, want 2 (username,password)", name, line, len(rec))
		}
		user := strings.TrimSpace(rec[0])
		if err := checkUsername(user); err != nil {
			return nil, fmt.Errorf("parse users file %s: line %d: %w", name, line, err)
		}
		if rec[1] == "" {
			return nil, fmt.Errorf("parse users file %s: line %d: empty password for user %q", name, line, user)
		}
		if prev, dup := seen[user]; dup {
			return nil, fmt.Errorf("parse users file %s: line %d: user %q already on line %d", name, line, user, prev)
		}
		seen[user] = line
		out = append(out, Account{Username: user, Password: rec[1]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parse users file %s: no accounts; want lines of username,password", name)
	}
	return out, nil
}

func checkUsername(u string) error {
	if u == "" {
		return errors.New("empty username")
	}
	if strings.ContainsFunc(u, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) {
		return fmt.Errorf("username %q holds a space, control character or '/'", u)
	}
	return nil
}

// Write writes accounts as a users file with a header.
func Write(w io.Writer, accts []Account) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"username", "password"}); err != nil {
		return fmt.Errorf("write users file: %w", err)
	}
	for _, a := range accts {
		if err := cw.Write([]string{a.Username, a.Password}); err != nil {
			return fmt.Errorf("write users file: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write users file: %w", err)
	}
	return nil
}

// WriteFile writes accounts to a users file at path.
func WriteFile(path string, accts []Account) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write users file: %w", err)
	}
	if err := Write(f, accts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write users file: %w", err)
	}
	return nil
}

// Generate returns n accounts named user00001... with passwords derived from seed.
func Generate(n int, seed int64) []Account {
	width := max(5, len(fmt.Sprint(n)))
	out := make([]Account, n)
	for i := range out {
		name := fmt.Sprintf("user%0*d", width, i+1)
		r := gen.Derive(seed, "password", name)
		out[i] = Account{Username: name, Password: fmt.Sprintf("%016x", r.Uint64())}
	}
	return out
}

// SplitActive divides accts into the active users (n of them, a choice the
// seed makes) and the users at rest, each in the order of accts. With n at
// least len(accts) every user is active.
func SplitActive(accts []Account, n int, sd int64) (active, resting []Account) {
	if n >= len(accts) {
		return accts, nil
	}
	pick := seed.Derive(sd, "active-users").Perm(len(accts))[:max(n, 0)]
	slices.Sort(pick)
	active = make([]Account, 0, len(pick))
	resting = make([]Account, 0, len(accts)-len(pick))
	next := 0
	for i, a := range accts {
		if next < len(pick) && pick[next] == i {
			active = append(active, a)
			next++
			continue
		}
		resting = append(resting, a)
	}
	return active, resting
}
