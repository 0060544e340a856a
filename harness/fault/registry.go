package fault

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spec names a fault as data: a registered name, a target and parameters, all
// strings so that scenarios are plain literals and reports can store them.
type Spec struct {
	Name   string            `json:"name"`             // e.g. "latency"
	Target string            `json:"target,omitempty"` // e.g. "phones-syncd"; "" takes the fault's default
	Params map[string]string `json:"params,omitempty"` // e.g. {"latency": "500ms"}
}

// String returns "name@target" and the parameters in key order.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(s.Name)
	if s.Target != "" {
		b.WriteString("@" + s.Target)
	}
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, s.Params[k])
	}
	return b.String()
}

// Entry is a registered fault: its name, a one-line summary, what its
// environment must offer, and how to build it from a Spec.
type Entry struct {
	Name    string
	Summary string
	// Needs lists what the environment must offer for the fault to work, so
	// that a scenario asking for more than its environment serves is refused
	// before it starts.
	Needs []Need
	New   func(Spec) (Fault, error)
}

// Need is something a fault needs from its environment.
type Need string

// The needs of the built-in faults.
const (
	// NeedsProxy: the fault proxy between phones, syncd and PostgreSQL (Env.Proxy).
	NeedsProxy Need = "proxy"
	// NeedsDevices: the workload's phones (Env.Devices).
	NeedsDevices Need = "devices"
	// NeedsSizedVolume: a size-limited volume to fill (PostgreSQL's data volume
	// made with a size).
	NeedsSizedVolume Need = "sized-volume"
	// NeedsBackupVolume: a volume of base backups and archived WAL.
	NeedsBackupVolume Need = "backup-volume"
)

// Explain says in plain words what a need asks of a scenario.
func (n Need) Explain() string {
	switch n {
	case NeedsProxy:
		return "the fault proxy between the phones, the sync server and the database (set proxy: true)"
	case NeedsDevices:
		return "the phones of a load (put the fault in or after a load step)"
	case NeedsSizedVolume:
		return "a size-limited database volume (set data_volume_size)"
	case NeedsBackupVolume:
		return "a backup strategy that keeps base backups and WAL on a backup volume (continuous, continuous-async or base-only)"
	}
	return string(n)
}

var (
	regMu    sync.RWMutex
	registry = map[string]Entry{}
	kebab    = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// Register adds a fault to the registry. The name must be kebab-case and not yet
// taken.
func Register(e Entry) error {
	if !kebab.MatchString(e.Name) {
		return fmt.Errorf("register fault %q: the name must be kebab-case, e.g. disk-full", e.Name)
	}
	if e.New == nil {
		return fmt.Errorf("register fault %s: no constructor", e.Name)
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[e.Name]; dup {
		return fmt.Errorf("register fault %s: the name is taken", e.Name)
	}
	registry[e.Name] = e
	return nil
}

// New builds the fault a spec names, checking its target and parameters.
func New(spec Spec) (Fault, error) {
	regMu.RLock()
	e, ok := registry[spec.Name]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("build fault %q: no such fault (registered: %s)", spec.Name, strings.Join(Names(), ", "))
	}
	f, err := e.New(spec)
	if err != nil {
		return nil, fmt.Errorf("build fault %s: %w", spec.Name, err)
	}
	return f, nil
}

// Names lists the registered faults in name order.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns a registered fault's entry.
func Lookup(name string) (Entry, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	e, ok := registry[name]
	return e, ok
}

// builtin registers the faults of this package; a clash is a bug in this package.
func builtin(entries ...Entry) {
	for _, e := range entries {
		if err := Register(e); err != nil {
			panic(err)
		}
	}
}

// params reads a spec's parameters, collecting every problem, and reports
// unknown keys, so that a typo in a scenario is an error rather than ignored.
type params struct {
	spec Spec
	used map[string]bool
	errs []error
}

func newParams(spec Spec) *params { return &params{spec: spec, used: map[string]bool{}} }

func (p *params) raw(key string) (string, bool) {
	p.used[key] = true
	v, ok := p.spec.Params[key]
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

func (p *params) fail(key, val, want string) {
	p.errs = append(p.errs, fmt.Errorf("parameter %s=%q: want %s", key, val, want))
}

func (p *params) str(key, def string, allowed ...string) string {
	v, ok := p.raw(key)
	if !ok {
		return def
	}
	if len(allowed) > 0 {
		for _, a := range allowed {
			if v == a {
				return v
			}
		}
		p.fail(key, v, "one of "+strings.Join(allowed, ", "))
	}
	return v
}

func (p *params) duration(key string, def time.Duration) time.Duration {
	v, ok := p.raw(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		p.fail(key, v, "a duration such as 500ms or 2s")
		return def
	}
	return d
}

func (p *params) integer(key string, def, lo, hi int64) int64 {
	v, ok := p.raw(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(key, v, fmt.Sprintf("an integer from %d to %d", lo, hi))
		return def
	}
	return n
}

func (p *params) boolean(key string, def bool) bool {
	v, ok := p.raw(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, "true or false")
		return def
	}
	return b
}

func (p *params) list(key string, def []string, allowed ...string) []string {
	v, ok := p.raw(key)
	if !ok {
		return def
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if len(allowed) > 0 && !contains(allowed, part) {
			p.fail(key, part, "one of "+strings.Join(allowed, ", "))
			continue
		}
		out = append(out, part)
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// done returns every problem found, including parameters nobody asked for.
func (p *params) done() error {
	var unknown []string
	for k := range p.spec.Params {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(p.used))
		for k := range p.used {
			known = append(known, k)
		}
		sort.Strings(known)
		p.errs = append(p.errs, fmt.Errorf("unknown parameter %s (this fault takes: %s)", strings.Join(unknown, ", "), strings.Join(known, ", ")))
	}
	return errors.Join(p.errs...)
}

// target returns the spec's target or the default, and an error when neither is set.
func target(spec Spec, def, what string) (string, error) {
	if spec.Target != "" {
		return spec.Target, nil
	}
	if def == "" {
		return "", fmt.Errorf("no target: name %s", what)
	}
	return def, nil
}
