// Package fault causes, on purpose and repeatably, what went wrong (or could
// have) in a real outage of a sync service: processes killed, frozen or
// restarted; networks partitioned, slowed or cut; disks filled; files corrupted;
// a whole failure domain lost; storage and schema migrations botched; backups
// damaged; phones reset while the server was down.
//
// Each fault is a value behind one small interface (Fault: a kebab-case name, a
// target, Inject, Recover, Wait), registered under its name so that scenarios can
// name faults as data (Spec) and a Schedule derived from the run's seed can say
// when each is injected and recovered. Faults act only on Docker objects labelled
// with the current run: a container, volume or network without the run's labels
// is refused with ErrNotOwned. Inject and Active.Recover record each fault's start
// and end in the run's timeline.
//
// # Catalogue
//
// Name, target (default), parameters (default):
//
//	kill-9               component                 -
//	graceful-restart     component                 timeout (30s)
//	pause                component                 -
//	partition            component                 network (the stack's)
//	latency              link                      latency (500ms), jitter (0), stream (downstream), percent (100)
//	bandwidth            link                      rate in KB/s (16), stream, percent
//	connection-reset     link                      after (0), stream, percent
//	timeout              link                      close-after (0: never), stream, percent
//	link-down            link                      -
//	disk-full            volume (postgres)         -
//	corrupt-file         volume (postgres)         path (pg/base/*/*), op (flip|truncate|delete), files (1), bytes (16), size (half), stopped (false)
//	lose-domain          domain (san-a)            -
//	storage-migration    postgres                  botch (none), verify (true), domain (san-b), command, image, online (false), files (2), bytes (16)
//	botched-schema-migration  syncd or postgres   botch (all: drop-contact-photos, truncate-notes, shift-time-zones), timeout (30s)
//	corrupt-backup-file  volume (backup)           path (base-backup data files), files (1), bytes (16)
//	delete-backup-file   volume (backup)           path, files (1)
//	corrupt-wal-segment  volume (backup)           path (**), segments (1), bytes (16), within (8192)
//	delete-wal-segment   volume (backup)           path (**), segments (1)
//	empty-backup         volume (backup)           path (**: the newest backup_manifest's directory)
//	archive-gap          volume (backup)           path (**), segments (2)
//	device-reset         devices (all)             server (syncd), count (0: all), kill (false), timeout (30s)
//	procedure            postgres                  dir, script | fault with fault.<param>..., timeout (10m)
//
// A component is postgres, syncd or proxy, or a container of the run by name or
// id; a link is phones-syncd or syncd-postgres (the fault proxy's, see package
// proxy); a volume is a component (its data volume), a volume name, or a role of
// the run's volumes ("backup" finds "stack-continuous-backup"); path parameters
// are comma-separated globs relative to the volume's root in which ** matches
// any depth. Every random choice (files, offsets, devices, schedule times)
// derives from Env.Seed or the Schedule's seed.
package fault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/timeline"
)

// Fault is one failure firedrill can cause.
type Fault interface {
	// Name is the kebab-case name the fault is registered under, e.g. "kill-9".
	Name() string
	// Target names what the fault aims at: a component ("postgres", "syncd"), a
	// link ("phones-syncd"), a volume or a failure domain ("san-a").
	Target() string
	// Inject causes the failure. It returns once the failure is in effect.
	Inject(ctx context.Context, env *Env) error
	// Recover undoes what can be undone (restarts, reconnects, removes toxics);
	// for a permanent fault it does nothing: the data is gone until a restore.
	Recover(ctx context.Context, env *Env) error
	// Wait returns once the target serves again after Recover.
	Wait(ctx context.Context, env *Env) error
}

// Permanent is implemented by faults whose damage Recover cannot undo (lost
// volumes, corrupted files, a botched migration that committed): Recover brings
// the service back where it can, but the data stays damaged.
type Permanent interface {
	Permanent() bool
}

// Detailer is implemented by faults that can say what exactly they did (which
// files, which offsets, what a migration's verification found), for the timeline.
type Detailer interface {
	Detail() string
}

// ErrNotOwned reports a Docker object that is not labelled with the current run:
// no fault ever touches it.
var ErrNotOwned = errors.New("not labelled with this run")

// The components a fault may name as its target: the stack's roles. Syncd is
// the server role's name from the reference stack and means the stack's sync
// server whatever its definition (DAViCal's Apache, say); Server says so.
const (
	Postgres = "postgres"
	Syncd    = "syncd"
	Server   = "server"
	Proxy    = "proxy"
)

// role returns the role a target names: Server for Syncd, else the target.
func role(target string) string {
	if target == Syncd {
		return Server
	}
	return target
}

// Env is what faults act in: the run (only its labelled objects may be touched),
// the stack under test, the fault proxy when the stack runs behind one, the
// timeline that records each fault, the seed every random choice derives from,
// and the devices the workload offers for device faults.
type Env struct {
	Run   *stack.Run
	Stack *stack.Stack // the stack under test; faults aimed at components need it
	// Proxy is the fault proxy when it is not the stack's own (Stack.Proxy);
	// nil takes the stack's.
	Proxy    *stack.Proxy
	Timeline *timeline.Timeline // nil records nothing
	Seed     int64
	Devices  Devices // nil unless the workload offers device hooks
	// WaitTimeout bounds each Wait (default 2 minutes).
	WaitTimeout time.Duration
	// StepTimeout bounds each Inject and each Recover (default 10 minutes: a
	// storage migration copies the whole database).
	StepTimeout time.Duration
	// Say narrates what a fault did while a drill runs; nil says nothing. It
	// is called from the schedule's goroutines, so it must be safe for
	// concurrent use.
	Say func(format string, args ...any)
}

func (e *Env) waitTimeout() time.Duration {
	if e.WaitTimeout > 0 {
		return e.WaitTimeout
	}
	return 2 * time.Minute
}

func (e *Env) stepTimeout() time.Duration {
	if e.StepTimeout > 0 {
		return e.StepTimeout
	}
	return 10 * time.Minute
}

func (e *Env) say(format string, args ...any) {
	if e != nil && e.Say != nil {
		e.Say(format, args...)
	}
}

func (e *Env) check() error {
	if e == nil || e.Run == nil {
		return errors.New("fault: the environment has no run: build Env with the run whose objects the fault may touch")
	}
	return nil
}

// Active is a fault that has been injected and whose span in the timeline is
// open until Recover.
type Active struct {
	Fault Fault
	env   *Env
	end   func(detail string)
	done  bool
}

// Inject injects f in env (within Env.StepTimeout) and opens its span in the
// timeline. A permanent
// fault's span closes when Inject returns; any other's when Active.Recover does.
func Inject(ctx context.Context, env *Env, f Fault) (*Active, error) {
	if err := env.check(); err != nil {
		return nil, err
	}
	end := env.Timeline.Begin(timeline.Fault, f.Name(), f.Target())
	ictx, cancel := context.WithTimeout(ctx, env.stepTimeout())
	defer cancel()
	if err := f.Inject(ictx, env); err != nil {
		end("inject failed: " + err.Error())
		return nil, fmt.Errorf("inject %s into %s: %w", f.Name(), f.Target(), err)
	}
	a := &Active{Fault: f, env: env, end: end}
	if p, ok := f.(Permanent); ok && p.Permanent() {
		end(joinDetail("permanent", detailOf(f)))
		a.end = func(string) {}
	}
	return a, nil
}

// Recover recovers the fault (within Env.StepTimeout), waits until its target
// serves again (within Env.WaitTimeout), and closes its span. Calling it again
// does nothing.
func (a *Active) Recover(ctx context.Context) error {
	if a == nil || a.done {
		return nil
	}
	a.done = true
	rctx, cancel := context.WithTimeout(ctx, a.env.stepTimeout())
	defer cancel()
	if err := a.Fault.Recover(rctx, a.env); err != nil {
		a.end(joinDetail("recover failed: "+err.Error(), detailOf(a.Fault)))
		return fmt.Errorf("recover %s on %s: %w", a.Fault.Name(), a.Fault.Target(), err)
	}
	wctx, cancel := context.WithTimeout(ctx, a.env.waitTimeout())
	defer cancel()
	if err := a.Fault.Wait(wctx, a.env); err != nil {
		a.end(joinDetail("service did not come back: "+err.Error(), detailOf(a.Fault)))
		return fmt.Errorf("wait for %s after %s: %w", a.Fault.Target(), a.Fault.Name(), err)
	}
	a.end(detailOf(a.Fault))
	return nil
}

func detailOf(f Fault) string {
	if d, ok := f.(Detailer); ok {
		return d.Detail()
	}
	return ""
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
