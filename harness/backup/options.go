package backup

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
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
	syncd         bool
	syncdOpts     []stack.SyncdOption
	postgresOpts  []stack.PostgresOption
	replayTimeout time.Duration
	password      string
	dataDomain    string
}

func defaultOptions() options {
	return options{syncd: true, replayTimeout: 10 * time.Minute, dataDomain: stack.DomainSANA}
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

// WithSyncd passes options to the restored stack's syncd (Restore).
func WithSyncd(opts ...stack.SyncdOption) Option {
	return Option{"WithSyncd", forRestore, func(o *options) { o.syncdOpts = append(o.syncdOpts, opts...) }}
}

// WithoutSyncd restores the database only, starting no sync server (Restore), for
// drills at the database level.
func WithoutSyncd() Option {
	return Option{"WithoutSyncd", forRestore, func(o *options) { o.syncd = false }}
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
