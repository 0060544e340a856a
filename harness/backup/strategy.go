package backup

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/firedrill/firedrill/harness/stack"
)

// Strategy is a backup set-up a scenario rehearses, as data: how backups are
// taken, whether WAL is archived continuously, and where the backups live.
// Scenarios pick one by name from the registry (Lookup) or write their own.
type Strategy struct {
	Name        string `json:"name"` // kebab-case, e.g. "continuous"
	Description string `json:"description"`
	Method      Method `json:"method"`
	// WAL streams the primary's WAL into the archive with pg_receivewal through a
	// replication slot, so that a restore can replay up to the disaster.
	WAL bool `json:"wal"`
	// Synchronous makes pg_receivewal a synchronous standby of the primary: a
	// commit is acknowledged only once the archive has flushed it.
	Synchronous bool `json:"synchronous"`
	// SameVolume writes backups onto the database's own data volume, beside the
	// cluster, instead of onto a backup volume of their own.
	SameVolume bool `json:"same_volume"`
	// Domain is the failure domain of the backup volume (default san-b).
	Domain string `json:"domain,omitempty"`
}

// The built-in strategies.
var (
	// Continuous takes base backups and streams WAL synchronously into a backup
	// volume in another failure domain than the database's: an acknowledged
	// commit is never lost, and any point since the oldest base backup can be
	// recovered.
	Continuous = Strategy{
		Name:        "continuous",
		Description: "pg_basebackup base backups plus WAL streamed synchronously by pg_receivewal, in another failure domain (san-b)",
		Method:      MethodBase, WAL: true, Synchronous: true, Domain: stack.DomainSANB,
	}
	// ContinuousAsync is Continuous with the archive as an asynchronous standby:
	// commits do not wait for it, so the newest acknowledged ones can be lost with
	// the primary (a few of several thousand per second, measured here).
	ContinuousAsync = Strategy{
		Name:        "continuous-async",
		Description: "pg_basebackup base backups plus WAL streamed asynchronously by pg_receivewal, in another failure domain (san-b)",
		Method:      MethodBase, WAL: true, Domain: stack.DomainSANB,
	}
	// BaseOnly takes periodic base backups (each carrying its own WAL) into
	// another failure domain, with no WAL archive: a restore returns the database
	// as of the newest good backup, losing everything written since.
	BaseOnly = Strategy{
		Name:        "base-only",
		Description: "periodic pg_basebackup base backups with their own WAL, no archive, in another failure domain (san-b)",
		Method:      MethodBase, Domain: stack.DomainSANB,
	}
	// DumpSameVolume writes a nightly pg_dump onto the database's own volume: the
	// flawed set-up of the Sidekick story, where one storage failure takes the
	// database and its backup together.
	DumpSameVolume = Strategy{
		Name:        "dump-same-volume",
		Description: "a nightly pg_dump written onto the database's own data volume (the flawed set-up: one failure takes both)",
		Method:      MethodDump, SameVolume: true,
	}
)

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate reports what is wrong with a strategy, if anything.
func (s Strategy) Validate() error {
	switch {
	case !kebab.MatchString(s.Name):
		return fmt.Errorf("strategy name %q: want kebab-case, e.g. continuous", s.Name)
	case s.Method != MethodBase && s.Method != MethodDump:
		return fmt.Errorf("strategy %s: method %q: want %q or %q", s.Name, s.Method, MethodBase, MethodDump)
	case s.WAL && s.Method != MethodBase:
		return fmt.Errorf("strategy %s: WAL archiving needs base backups to replay onto; a dump cannot use it", s.Name)
	case s.Synchronous && !s.WAL:
		return fmt.Errorf("strategy %s: synchronous needs WAL archiving", s.Name)
	case s.SameVolume && s.Method != MethodDump:
		return fmt.Errorf("strategy %s: same-volume backups are dumps only (a base backup inside the data volume would copy itself)", s.Name)
	case s.SameVolume && s.Domain != "":
		return fmt.Errorf("strategy %s: a same-volume strategy has no failure domain of its own; drop Domain", s.Name)
	}
	return nil
}

// domain returns the failure domain of the backup volume.
func (s Strategy) domain() string {
	if s.Domain == "" {
		return stack.DomainSANB
	}
	return s.Domain
}

// PrimaryOptions returns the settings the primary needs from its start. With a
// synchronous archive that is synchronous_commit=on, on which the no-loss promise
// rests. synchronous_standby_names itself is set only once the archiver streams
// (see Setup): set at start, it would block the sync server's schema migrations
// until an archiver that cannot exist yet connects.
func (s Strategy) PrimaryOptions() []stack.PostgresOption {
	if s.Synchronous {
		return []stack.PostgresOption{stack.WithSettings(map[string]string{"synchronous_commit": "on"})}
	}
	return nil
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Strategy{}
)

func init() {
	for _, s := range []Strategy{Continuous, ContinuousAsync, BaseOnly, DumpSameVolume} {
		if err := Register(s); err != nil {
			panic(err) // the built-ins are valid and distinct
		}
	}
}

// Register adds a strategy under its name.
func Register(s Strategy) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("register strategy: %w", err)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[s.Name]; dup {
		return fmt.Errorf("register strategy: %s is already registered", s.Name)
	}
	registry[s.Name] = s
	return nil
}

// Lookup returns the strategy registered under name.
func Lookup(name string) (Strategy, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	if !ok {
		return Strategy{}, fmt.Errorf("look up backup strategy %q: not registered (known: %s)", name, strings.Join(namesLocked(), ", "))
	}
	return s, nil
}

// Names lists the registered strategies in name order.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
