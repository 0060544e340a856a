package drill

import (
	"fmt"
	"strings"

	"github.com/firedrill/firedrill/harness/backup"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// needsSyncdSchema names the faults that know the reference server's tables.
var needsSyncdSchema = []string{"botched-schema-migration"}

// stackFits says, before anything starts, which steps of the scenario the
// stack definition cannot support: users at rest on a stack without a bulk
// import, a fault that knows syncd's tables on a stack with other tables, a
// logical dump of a database the server does not keep its data in. Photos
// and app data on a stack that keeps no files are not refused: the run says
// up front that they are not covered.
func stackFits(sc Scenario, def *stackdef.Definition, prof *profile.Profile) error {
	var probs []string
	if prof.Resting() && def.Users.Import == "" {
		probs = append(probs, fmt.Sprintf("profile %s keeps %d of its %d users at rest, and stack %s has no bulk import to put them there (users.import); run a profile whose users are all active, e.g. small, or a stack with an import",
			prof.Name, prof.Users-prof.Active(prof.Users), prof.Users, def.Name))
	}
	for n, st := range sc.Steps {
		for _, f := range st.Faults {
			for _, name := range needsSyncdSchema {
				if f.Name == name && def.Schema != "syncd" {
					probs = append(probs, fmt.Sprintf("step %d (%s): fault %s rewrites syncd's tables, and stack %s keeps other tables (schema: %q); run it on the syncd stack",
						n+1, st.Do, f.Name, def.Name, def.Schema))
				}
			}
		}
	}
	if strategy, err := backup.Lookup(sc.Backup); err == nil && strategy.Method == backup.MethodDump && def.Database.NoDump != "" {
		probs = append(probs, fmt.Sprintf("backup %s is a pg_dump of database %s, and on stack %s %s; use a base-backup strategy such as continuous",
			sc.Backup, def.Database.Name, def.Name, def.Database.NoDump))
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("run scenario %s on stack %s: it cannot support %s:\n  %s", sc.Name, def.Name,
		map[bool]string{true: "this", false: "these"}[len(probs) == 1], strings.Join(probs, "\n  "))
}
