// Package scenarios lists firedrill's scenarios as data: one struct literal each,
// named after what it rehearses. The Ginkgo suite in this directory and the CLI
// (`firedrill list`, `firedrill run`) run the same list.
package scenarios

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/report"
)

// The labels scenarios carry, for filtering (`ginkgo --label-filter`).
const (
	Smoke     = "smoke"     // fast; runs in `make test`
	Nightly   = "nightly"   // runs in `make nightly`
	Migration = "migration" // rehearses a storage or schema migration
	GameDay   = "gameday"   // worth watching step by step with people
	Slow      = "slow"      // minutes, not seconds
)

// loseStorage destroys the primary's storage: san-a, and san-c where a storage
// migration moved the database.
var loseStorage = []fault.Spec{
	{Name: "lose-domain", Target: "san-a"},
	{Name: "lose-domain", Target: "san-c"},
}

// All is every scenario, in the order `firedrill list` shows them.
var All = []drill.Scenario{
	{
		Name:    "sidekick-san-migration",
		Summary: "The 2009 Sidekick outage with a tested backup: a SAN migration copies the live database torn and flips bits on the way; the disaster is declared and the continuous backup in another failure domain is restored into a fresh stack.",
		Labels:  []string{Nightly, Migration, GameDay, Slow},
		Profile: "small",
		Backup:  "continuous",
		Steps: []drill.Step{
			{Do: drill.Populate},
			{Do: drill.BaseBackup},
			{Do: drill.Load},
			{Do: drill.Check},
			{Do: drill.BaseBackup, Say: "Before the migration the operators take a fresh base backup (its checkpoint also means crash recovery on the copy will not repair the damage with full-page images from the WAL)."},
			{Do: drill.Inject, Say: "Migrate the database's storage from SAN A to a new SAN C the hurried way: copy the data directory while PostgreSQL runs (no backup label), bits flip in transit, and nobody verifies the copy before switching over.",
				Faults: []fault.Spec{{Name: "storage-migration", Params: map[string]string{"botch": "torn-copy,bitflip-in-transit", "verify": "false", "domain": "san-c", "bytes": "1024"}}}},
			{Do: drill.Observe},
			{Do: drill.Disaster, Faults: loseStorage},
			{Do: drill.Restore},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss(), RTO: 5 * time.Minute},
	},
	{
		Name:    "sidekick-backup-on-same-san",
		Summary: "The 2009 Sidekick outage as it happened: the nightly dump lives on the database's own SAN, the migration goes wrong and the SAN is lost with the backup on it; firedrill must report the loss user by user.",
		Labels:  []string{Smoke, Nightly, Migration, GameDay},
		Profile: "tiny",
		Backup:  "dump-same-volume",
		Steps: []drill.Step{
			{Do: drill.Load},
			{Do: drill.BaseBackup, Say: "The nightly pg_dump runs and writes its file onto the database's own volume, on SAN A."},
			{Do: drill.Inject, Say: "Migrate the database's storage from SAN A to a new SAN C the hurried way: a torn copy of the live database with bits flipped in transit, switched to without verification.",
				Faults: []fault.Spec{{Name: "storage-migration", Params: map[string]string{"botch": "torn-copy,bitflip-in-transit", "verify": "false", "domain": "san-c", "bytes": "1024"}}}},
			{Do: drill.Observe},
			{Do: drill.Disaster, Faults: loseStorage},
			{Do: drill.Restore},
			{Do: drill.Verify},
		},
		Expect: report.ExpectLossDetected,
	},
	{
		Name:    "crash-mid-sync",
		Summary: "PostgreSQL and the sync server are killed with SIGKILL while phones sync; after they restart, every acknowledged write must be there (a commit is durable before it is acknowledged).",
		Labels:  []string{Smoke, Nightly},
		Profile: "tiny",
		Backup:  "continuous",
		Proxy:   true,
		Steps: []drill.Step{
			{Do: drill.BaseBackup},
			{Do: drill.Load, Faults: []fault.Spec{{Name: "kill-9", Target: "postgres"}, {Name: "kill-9", Target: "syncd"}}},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	},
	{
		Name:    "partition-mid-sync",
		Summary: "The link between the sync server and PostgreSQL black-holes and the phones' link drops while they sync (Toxiproxy); writes in flight become ambiguous, and afterwards every acknowledged write must be there.",
		Labels:  []string{Nightly},
		Profile: "tiny",
		Backup:  "continuous",
		Proxy:   true,
		Steps: []drill.Step{
			{Do: drill.BaseBackup},
			{Do: drill.Load, Faults: []fault.Spec{{Name: "timeout", Target: "syncd-postgres"}, {Name: "link-down", Target: "phones-syncd"}}},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	},
	{
		Name:    "silent-backup-corruption",
		Summary: "The newest base backup is silently corrupted on the backup volume; verification before restore must catch it and fall back to the older base backup plus WAL, and every user must still be intact.",
		Labels:  []string{Nightly},
		Profile: "tiny",
		Backup:  "continuous",
		Steps: []drill.Step{
			{Do: drill.BaseBackup},
			{Do: drill.Load},
			{Do: drill.BaseBackup},
			{Do: drill.Inject, Faults: []fault.Spec{{Name: "corrupt-backup-file", Params: map[string]string{"path": "{newest-backup}/**", "files": "2", "bytes": "1024"}}}},
			{Do: drill.Disaster, Faults: []fault.Spec{{Name: "lose-domain", Target: "san-a"}}},
			{Do: drill.Restore},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	},
	{
		Name:    "botched-schema-migration",
		Summary: "A sync server upgrade runs a schema migration that mangles data and commits (contacts lose photos, notes are truncated, times shift zone); point-in-time recovery to the restore point taken before the upgrade brings every user back intact.",
		Labels:  []string{Smoke, Nightly, Migration},
		Profile: "tiny",
		Backup:  "continuous",
		Steps: []drill.Step{
			{Do: drill.BaseBackup},
			{Do: drill.Load},
			{Do: drill.RestorePoint, Name: "before-upgrade"},
			{Do: drill.Inject, Faults: []fault.Spec{{Name: "botched-schema-migration"}}},
			{Do: drill.Observe},
			{Do: drill.Restore, Name: "before-upgrade"},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	},
	// The Sidekick outage's cruellest part: users who reset their
	// phones during it lost everything the servers had lost.
	{
		Name:    "device-reset-during-outage",
		Summary: "The primary's storage is lost and, while the service is down, every user factory-resets their phone; after the restore every phone syncs again and must hold all of its user's data.",
		Labels:  []string{Nightly, GameDay},
		Profile: "tiny",
		Backup:  "continuous",
		Steps: []drill.Step{
			{Do: drill.BaseBackup},
			{Do: drill.Load},
			{Do: drill.Disaster, Faults: []fault.Spec{{Name: "lose-domain", Target: "san-a"}}},
			{Do: drill.ResetPhones},
			{Do: drill.Restore},
			{Do: drill.ResyncPhones},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	},
	// The database's disk fills while phones sync.
	{
		Name:           "disk-full",
		Summary:        "The database's volume fills up while phones sync: writes fail (PostgreSQL cannot extend its WAL or tables); once space is freed and the database restarted, every acknowledged write must be there and no refused one may appear.",
		Labels:         []string{Nightly},
		Profile:        "tiny",
		Backup:         "base-only",
		DataVolumeSize: 512 << 20,
		Steps: []drill.Step{
			{Do: drill.Load, Faults: []fault.Spec{{Name: "disk-full", Target: "postgres"}}},
			{Do: drill.Verify},
		},
		Expect:  report.ExpectIntact,
		Budgets: drill.Budgets{LostWrites: drill.NoLoss()},
	},
}

// Find returns the scenario with the given name.
func Find(name string) (drill.Scenario, error) {
	for _, s := range All {
		if s.Name == name {
			return s, nil
		}
	}
	return drill.Scenario{}, fmt.Errorf("find scenario %q: no such scenario; `firedrill list` shows them: %s", name, strings.Join(Names(), ", "))
}

// DirsVar names the environment variable that lists directories of scenario
// files (separated by the OS's list separator, ':' on Linux), which `firedrill
// list` and the Ginkgo suite include beside the built-in scenarios.
const DirsVar = "FIREDRILL_SCENARIOS"

// Dirs returns the directories of scenario files that value (of DirsVar) names,
// after the given ones.
func Dirs(value string, given ...string) []string {
	out := append([]string(nil), given...)
	for _, d := range filepath.SplitList(value) {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Load returns the built-in scenarios followed by those of the scenario files
// in dirs. A file whose scenario has a built-in's name, or another file's, is
// refused.
func Load(dirs []string) ([]drill.Scenario, error) {
	out := append([]drill.Scenario(nil), All...)
	seen := map[string]string{}
	for _, s := range All {
		seen[s.Name] = "built in"
	}
	var errs []error
	for _, d := range dirs {
		scs, err := drill.LoadDir(d)
		if err != nil {
			errs = append(errs, err)
		}
		for _, s := range scs {
			if where, dup := seen[s.Name]; dup {
				errs = append(errs, fmt.Errorf("scenario file %s: the name %s is taken (%s): choose another", s.Source, s.Name, where))
				continue
			}
			seen[s.Name] = s.Source
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

// Resolve returns the scenario a command line names: a scenario file when the
// name is a path (see drill.IsFile), else a built-in scenario or one of the
// files in dirs.
func Resolve(name string, dirs []string) (drill.Scenario, error) {
	if drill.IsFile(name) {
		return drill.LoadFile(name)
	}
	all, err := Load(dirs)
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	if err != nil {
		return drill.Scenario{}, err
	}
	return Find(name)
}

// Names lists the scenarios' names, sorted.
func Names() []string {
	var names []string
	for _, s := range All {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}
