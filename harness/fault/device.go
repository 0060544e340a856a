package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/seed"
	"github.com/moby/moby/client"
)

func init() {
	builtin(Entry{Name: "device-reset", Summary: "take syncd down, reset phones (wipe their local stores) while it is down, then bring it back and resync them", Needs: []Need{NeedsDevices}, New: newDeviceReset})
}

// Device is a simulated phone as the workload offers it to device faults.
type Device interface {
	// ID names the device, e.g. "user-0007/1".
	ID() string
	// Reset wipes the device's local store, as a factory reset does: whatever it
	// held that the server has not got is gone. It must not need the server.
	Reset(ctx context.Context) error
	// Resync sets the device up again and syncs everything from the server, as a
	// freshly reset phone does, returning once it has (or failed).
	Resync(ctx context.Context) error
}

// Devices finds the devices a device fault aims at; the workload implements it.
type Devices interface {
	// Devices returns the devices a selector names: "all", a user's name (all of
	// that user's devices) or a device's ID.
	Devices(selector string) ([]Device, error)
}

// DeviceReset takes the server down, resets phones while it is down (so that
// whatever they held only locally is lost, as Sidekick owners who reset their
// phones during the 2009 outage found), then brings the server back and resyncs
// them: afterwards each phone holds exactly what the server kept.
type DeviceReset struct {
	Selector string        // "all", a user or a device ID
	Count    int           // how many of the selected devices, picked with the seed (0: all)
	Server   string        // the component taken down (default syncd)
	Kill     bool          // kill -9 the server instead of stopping it gracefully
	Timeout  time.Duration // graceful stop timeout

	serverID string
	devices  []Device
	resynced int
}

func newDeviceReset(spec Spec) (Fault, error) {
	t, _ := target(spec, "all", "devices")
	p := newParams(spec)
	f := &DeviceReset{
		Selector: t,
		Count:    int(p.integer("count", 0, 0, 1<<20)),
		Server:   p.str("server", Syncd),
		Kill:     p.boolean("kill", false),
		Timeout:  p.duration("timeout", 30*time.Second),
	}
	return f, p.done()
}

// Name implements Fault.
func (f *DeviceReset) Name() string { return "device-reset" }

// Target implements Fault.
func (f *DeviceReset) Target() string { return "devices:" + f.Selector }

// Inject implements Fault.
func (f *DeviceReset) Inject(ctx context.Context, env *Env) error {
	if env.Devices == nil {
		return errors.New("reset devices: the environment offers no devices (Env.Devices): the workload must provide them")
	}
	devs, err := env.Devices.Devices(f.Selector)
	if err != nil {
		return fmt.Errorf("find devices %q: %w", f.Selector, err)
	}
	if len(devs) == 0 {
		return fmt.Errorf("find devices %q: none", f.Selector)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].ID() < devs[j].ID() })
	if f.Count > 0 && f.Count < len(devs) {
		r := seed.Derive(env.Seed, "device-reset", f.Selector)
		picked := make([]Device, 0, f.Count)
		for _, i := range r.Perm(len(devs))[:f.Count] {
			picked = append(picked, devs[i])
		}
		sort.Slice(picked, func(i, j int) bool { return picked[i].ID() < picked[j].ID() })
		devs = picked
	}
	c, err := env.container(ctx, f.Server)
	if err != nil {
		return err
	}
	f.serverID = c.ID
	if f.Kill {
		_, err = env.Run.Docker.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "SIGKILL"})
	} else {
		secs := max(int(f.Timeout/time.Second), 1)
		_, err = env.Run.Docker.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs})
	}
	if err != nil {
		return fmt.Errorf("take %s down: %w", f.Server, err)
	}
	if err := waitStopped(ctx, env, c.ID); err != nil {
		return err
	}
	f.devices = devs
	var errs []error
	for _, d := range devs {
		if err := d.Reset(ctx); err != nil {
			errs = append(errs, fmt.Errorf("reset device %s: %w", d.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// Recover implements Fault: it starts the server, waits until it serves, and
// resyncs every reset device.
func (f *DeviceReset) Recover(ctx context.Context, env *Env) error {
	if f.serverID == "" {
		return nil
	}
	if err := startAgain(ctx, env, f.Server, f.serverID); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, env.waitTimeout())
	defer cancel()
	if err := env.ready(wctx, f.Server); err != nil {
		return fmt.Errorf("wait for %s: %w", f.Server, err)
	}
	var errs []error
	f.resynced = 0
	for _, d := range f.devices {
		if err := d.Resync(ctx); err != nil {
			errs = append(errs, fmt.Errorf("resync device %s: %w", d.ID(), err))
			continue
		}
		f.resynced++
	}
	return errors.Join(errs...)
}

// Wait implements Fault.
func (f *DeviceReset) Wait(ctx context.Context, env *Env) error { return env.ready(ctx, f.Server) }

// Detail implements Detailer.
func (f *DeviceReset) Detail() string {
	ids := make([]string, len(f.devices))
	for i, d := range f.devices {
		ids[i] = d.ID()
	}
	return fmt.Sprintf("server %s down; reset %d devices [%s]; resynced %d", f.Server, len(ids), strings.Join(ids, " "), f.resynced)
}
