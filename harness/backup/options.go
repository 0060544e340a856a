package backup

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stackdef"
	"github.com/firedrill/firedrill/harness/timeline"
)

// scope says which calls an option applies to.
type scope uint8

const (
	forSetup scope = 1 << iota
	forRestore
)

// Option configures Setup or Restore; each says which it applies to, and the
// other refuses it.
type Option struct {
	name  string
	scope scope
	apply func(*options)
}

type options struct {
	timeline      *timeline.Timeline
	verifyEach    bool
	name          string
	server        bool
	serverOpts    []stack.ServerOption
	def           *stackdef.Definition
	postgresOpts  []stack.PostgresOption
	replayTimeout time.Duration
	password      string
	dataDomain    string
}

func defaultOptions() options {
	return options{server: true, replayTimeout: 10 * time.Minute, dataDomain: stack.DomainSANA}
}

func applyOptions(call string, sc scope, opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt.apply == nil {
			return o, fmt.Errorf("%s: an empty backup.Option; build options with the backup.With... functions", call)
		}
		if opt.scope&sc == 0 {
			return o, fmt.Errorf("%s: option %s does not apply here", call, opt.name)
		}
		opt.apply(&o)
	}
	return o, nil
}

// WithTimeline records backups, restore points (Setup) and restore phases
// (Restore) as spans of tl.
func WithTimeline(tl *timeline.Timeline) Option {
	return Option{"WithTimeline", forSetup | forRestore, func(o *options) { o.timeline = tl }}
}

// WithVerifyEachBackup verifies every backup right after taking it and records
// the outcome in the catalogue (Setup).
func WithVerifyEachBackup() Option {
	return Option{"WithVerifyEachBackup", forSetup, func(o *options) { o.verifyEach = true }}
}

// WithRestoreName names the restored stack's network and volumes (Restore;
// default "restored-N").
func WithRestoreName(name string) Option {
	return Option{"WithRestoreName", forRestore, func(o *options) { o.name = name }}
}

// WithStack starts the server of this stack definition on the restored
// database (Restore; default the reference stack's, syncd).
func WithStack(def *stackdef.Definition) Option {
	return Option{"WithStack", forRestore, func(o *options) { o.def = def }}
}

// WithServer passes options to the restored stack's sync server (Restore).
func WithServer(opts ...stack.ServerOption) Option {
	return Option{"WithServer", forRestore, func(o *options) { o.serverOpts = append(o.serverOpts, opts...) }}
}

// WithoutServer restores the database only, starting no sync server
// (Restore), for drills at the database level.
func WithoutServer() Option {
	return Option{"WithoutServer", forRestore, func(o *options) { o.server = false }}
}

// WithPostgres passes options to the restored PostgreSQL (Restore).
func WithPostgres(opts ...stack.PostgresOption) Option {
	return Option{"WithPostgres", forRestore, func(o *options) { o.postgresOpts = append(o.postgresOpts, opts...) }}
}

// WithReplayTimeout bounds WAL replay and start-up of the restored server
// (Restore; default 10 minutes).
func WithReplayTimeout(d time.Duration) Option {
	return Option{"WithReplayTimeout", forRestore, func(o *options) { o.replayTimeout = d }}
}

// WithPassword gives the backed-up cluster's superuser password, which a
// catalogue read back from its volume (LoadCatalog) does not carry (Restore).
func WithPassword(pw string) Option {
	return Option{"WithPassword", forRestore, func(o *options) { o.password = pw }}
}

// WithDataDomain puts the restored database's volume in a failure domain
// (Restore; default san-a, the database's domain, standing for replacement
// storage).
func WithDataDomain(domain string) Option {
	return Option{"WithDataDomain", forRestore, func(o *options) { o.dataDomain = domain }}
}

var seq atomic.Int64

// nextSeq numbers helper containers and restores uniquely within the process.
func nextSeq() int64 { return seq.Add(1) }
