package accounts

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "# staging accounts\nusername,password\nalice,secret\n\n  bob  ,\"pa,ss\"\n# end\n"
	got, err := Parse(strings.NewReader(in), "users.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{{"alice", "secret"}, {"bob", "pa,ss"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// Without a header.
	got, err = Parse(strings.NewReader("carol,x\n"), "u")
	if err != nil || len(got) != 1 || got[0].Username != "carol" {
		t.Fatalf("headerless file: %+v, %v", got, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"username,password\nalice\n", "users.csv: line 2: 1 fields, want 2 (username,password)"},
		{"alice,a\nbob,b,c\n", "line 2: 3 fields"},
		{"alice,a\n,b\n", "line 2: empty username"},
		{"alice,a\nbob,\n", `line 2: empty password for user "bob"`},
		{"alice,a\n# x\nalice,b\n", `line 3: user "alice" already on line 1`},
		{"alice,\"unterminated\n", "line 1"},
		{"al ice,a\n", `line 1: username "al ice" holds a space`},
		{"# only comments\n\n", "no accounts"},
		{"username,password\n", "no accounts"},
	} {
		_, err := Parse(strings.NewReader(tc.in), "users.csv")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestWriteThenParse(t *testing.T) {
	accts := Generate(12, 99)
	if accts[0].Username != "user00001" || accts[11].Username != "user00012" {
		t.Fatalf("names: %s .. %s", accts[0].Username, accts[11].Username)
	}
	if again := Generate(12, 99); again[3] != accts[3] {
		t.Error("Generate is not deterministic")
	}
	if other := Generate(12, 100); other[3].Password == accts[3].Password {
		t.Error("different seeds gave the same password")
	}
	var buf bytes.Buffer
	if err := Write(&buf, accts); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&buf, "generated")
	if err != nil {
		t.Fatal(err)
	}
	for i := range accts {
		if got[i] != accts[i] {
			t.Fatalf("account %d: %+v, want %+v", i, got[i], accts[i])
		}
	}
}
