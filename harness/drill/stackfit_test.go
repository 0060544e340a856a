package drill

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func TestAStackThatCannotSupportAStepIsRefusedUpFront(t *testing.T) {
	base := Scenario{Name: "x", Profile: "small", Backup: "continuous", Expect: report.ExpectIntact,
		Steps: []Step{{Do: Populate}, {Do: Load}, {Do: Verify}}}
	syncd, err := stackdef.Load("syncd")
	if err != nil {
		t.Fatal(err)
	}
	davical, err := stackdef.Load("davical")
	if err != nil {
		t.Fatal(err)
	}
	small, _ := profile.Load("small")
	medium, _ := profile.Load("medium")
	schema := base
	schema.Steps = []Step{{Do: Load}, {Do: Inject, Faults: []fault.Spec{{Name: "botched-schema-migration"}}}, {Do: Verify}}
	dump := base
	dump.Backup = "dump-same-volume"
	cases := []struct {
		name string
		sc   Scenario
		def  *stackdef.Definition
		prof *profile.Profile
		want string // "" when it fits
	}{
		{"syncd, users at rest", base, syncd, medium, ""},
		{"syncd, schema fault", schema, syncd, small, ""},
		{"syncd, dump", dump, syncd, small, ""},
		{"davical, every user active", base, davical, small, ""},
		{"davical, users at rest", base, davical, medium, "no bulk import"},
		{"davical, schema fault", schema, davical, small, "rewrites syncd's tables"},
		{"davical, dump", dump, davical, small, "pg_dump of database postgres"},
	}
	for _, c := range cases {
		err := stackFits(c.sc, c.def, c.prof)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}

func TestExecuteRefusesABadStackBeforeAnythingStarts(t *testing.T) {
	sc := Scenario{Name: "x", Profile: "medium", Backup: "continuous", Expect: report.ExpectIntact,
		Steps: []Step{{Do: Populate}, {Do: Load}, {Do: Verify}}}
	bad := filepath.Join(t.TempDir(), "ourstack.yaml")
	if err := os.WriteFile(bad, []byte("name: ours\nserver:\n  image: ours/server\n  port: 99999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for stack, want := range map[string]string{
		"nosuch":  "want one of davical, syncd",
		"davical": "no bulk import",
		bad:       bad + ":4: server.port",
	} {
		reports := t.TempDir()
		_, err := Execute(context.Background(), sc, Options{Stack: stack, Reports: reports})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--stack %s: err = %v, want it to say %q", stack, err, want)
		}
		if entries, _ := os.ReadDir(reports); len(entries) > 0 {
			t.Errorf("--stack %s: a run directory was made before the refusal", stack)
		}
	}
}
