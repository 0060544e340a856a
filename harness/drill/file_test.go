package drill

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
)

const goodFile = `name: our-move
summary: a test
labels: [nightly, migration]
profile: tiny
backup: continuous
proxy: true
data_volume_size: 512MiB
expect: intact
budgets: {lost_writes: 0, rto: 90s}
steps:
  - do: base-backup
  - do: load
    faults: [{name: latency, target: phones-syncd, params: {latency: 50ms}}]
  - do: restore-point
    name: before
  - do: inject
    faults:
      - name: kill-9
        target: syncd
  - do: recover
  - do: restore
    name: before
  - do: verify
`

func TestAScenarioFileDecodesToTheSameScenarioAsALiteral(t *testing.T) {
	got, err := ParseFile("our-move.yaml", []byte(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Name: "our-move", Summary: "a test", Labels: []string{"nightly", "migration"}, Profile: "tiny", Backup: "continuous",
		Proxy: true, DataVolumeSize: 512 << 20, Expect: report.ExpectIntact,
		Budgets: Budgets{LostWrites: NoLoss(), RTO: 90 * time.Second},
		Steps: []Step{
			{Do: BaseBackup},
			{Do: Load, Faults: []fault.Spec{{Name: "latency", Target: "phones-syncd", Params: map[string]string{"latency": "50ms"}}}},
			{Do: RestorePoint, Name: "before"},
			{Do: Inject, Faults: []fault.Spec{{Name: "kill-9", Target: "syncd"}}},
			{Do: Recover},
			{Do: Restore, Name: "before"},
			{Do: Verify},
		},
	}
	want.Source = "our-move.yaml"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
	// The same scenario as JSON.
	js := `{"name": "our-move", "profile": "tiny", "backup": "continuous", "expect": "intact", "steps": [{"do": "load"}, {"do": "verify"}]}`
	if _, err := ParseFile("our-move.json", []byte(js)); err != nil {
		t.Errorf("JSON scenario refused: %v", err)
	}
}

func TestABadScenarioFileNamesTheLineAndTheField(t *testing.T) {
	cases := []struct {
		name string
		edit func(string) string
		want string // "file:line: ..."
	}{
		{"unknown field", func(s string) string { return strings.Replace(s, "proxy: true", "proxi: true", 1) },
			`x.yaml:6: unknown field "proxi"; want one of name, summary, labels`},
		{"unknown step field", func(s string) string {
			return strings.Replace(s, "    name: before\n  - do: inject", "    nmae: before\n  - do: inject", 1)
		},
			`x.yaml:15: step 3: unknown field "nmae"; want one of do, say, faults, name`},
		{"bad duration", func(s string) string { return strings.Replace(s, "rto: 90s", "rto: soon", 1) },
			`x.yaml:9: budgets: rto "soon": want a duration`},
		{"bad size", func(s string) string { return strings.Replace(s, "512MiB", "huge", 1) },
			`x.yaml:7: data_volume_size "huge"`},
		{"bad bool", func(s string) string { return strings.Replace(s, "proxy: true", "proxy: maybe", 1) },
			`x.yaml:6: proxy "maybe": want true or false`},
		{"unknown fault", func(s string) string { return strings.Replace(s, "name: kill-9", "name: meteor", 1) },
			`x.yaml:18: step 4 (inject): fault meteor`},
		{"a fault its environment cannot serve", func(s string) string { return strings.Replace(s, "proxy: true\n", "", 1) },
			`x.yaml:12: step 2 (load): fault latency needs the fault proxy`},
		{"unknown action", func(s string) string { return strings.Replace(s, "do: recover", "do: pray", 1) },
			`x.yaml:20: step 5 (pray): unknown action`},
		{"unknown profile", func(s string) string { return strings.Replace(s, "profile: tiny", "profile: huge", 1) },
			`x.yaml:4: profile:`},
		{"unknown stack", func(s string) string { return strings.Replace(s, "profile: tiny", "profile: tiny\nstack: nosuch", 1) },
			`x.yaml:5: stack: find stack "nosuch": no such built-in stack`},
		{"missing field", func(s string) string { return strings.Replace(s, "backup: continuous\n", "", 1) },
			`x.yaml:1: the scenario has no backup: field`},
		{"two documents", func(s string) string { return s + "---\nname: again\n" },
			`a second document`},
		{"not a mapping", func(string) string { return "- just\n- a list\n" }, `x.yaml:1: want a mapping`},
		{"broken YAML", func(string) string { return "name: [unclosed\n" }, `not YAML or JSON`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFile("x.yaml", []byte(c.edit(goodFile)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseFile = %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}

func TestTheExampleScenarioFilesAreValid(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "scenarios")
	scs, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) == 0 {
		t.Fatalf("no scenario files in %s", dir)
	}
	if _, err := LoadDir(filepath.Join(t.TempDir(), "none")); err != nil {
		t.Errorf("a missing directory: %v, want no scenarios and no error", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "bad.yaml"), []byte("name: Bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("LoadDir with a bad file: %v, want an error naming it", err)
	}
	for _, name := range []string{"x.yaml", "drills/x", "./x.json"} {
		if !IsFile(name) {
			t.Errorf("IsFile(%q) = false", name)
		}
	}
	if IsFile("crash-mid-sync") {
		t.Error("IsFile(crash-mid-sync) = true")
	}
}

func TestARehearsalFileDecodesUsersSharesAndTouches(t *testing.T) {
	const file = `name: our-rehearsal
summary: a test
profile: tiny
backup: continuous
expect: intact
steps:
  - do: load
    users: {from: 0, to: 0.5}
  - do: base-backup
  - do: prove-backup
    touches: [data, san-c]
  - do: load
    users: {from: 0.5, to: 1}
  - do: verify
`
	sc, err := ParseFile("r.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Steps[0].Users; got != (Share{From: 0, To: 0.5}) {
		t.Errorf("first load's users = %+v", got)
	}
	if got := sc.Steps[2].Touches; !reflect.DeepEqual(got, []string{"data", "san-c"}) {
		t.Errorf("touches = %v", got)
	}
	overlap := strings.Replace(file, "{from: 0.5, to: 1}", "{from: 0.4, to: 1}", 1)
	if _, err := ParseFile("r.yaml", []byte(overlap)); err == nil || !strings.Contains(err.Error(), "r.yaml:13: step 4 (load): users share [0.4, 1) overlaps") {
		t.Errorf("overlapping shares: %v", err)
	}
	bad := strings.Replace(file, "to: 0.5}", "to: half}", 1)
	if _, err := ParseFile("r.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "r.yaml:8: step 1: users: to: want a number") {
		t.Errorf("a share that is no number: %v", err)
	}
}
