package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

func init() {
	builtin(
		Entry{Name: "partition", Summary: "disconnect a component from the stack network; recover reconnects it with its aliases", New: newPartition},
		Entry{Name: "latency", Summary: "delay the data on a link (phones-syncd or syncd-postgres) through the fault proxy", Needs: []Need{NeedsProxy}, New: toxicMaker("latency")},
		Entry{Name: "bandwidth", Summary: "limit a link's bandwidth through the fault proxy", Needs: []Need{NeedsProxy}, New: toxicMaker("bandwidth")},
		Entry{Name: "connection-reset", Summary: "reset every connection on a link (TCP RST) through the fault proxy", Needs: []Need{NeedsProxy}, New: toxicMaker("connection-reset")},
		Entry{Name: "timeout", Summary: "black-hole a link: data stops, connections hang (and close after a timeout when one is set)", Needs: []Need{NeedsProxy}, New: toxicMaker("timeout")},
		Entry{Name: "link-down", Summary: "take a link down: connections through the proxy are closed and new ones refused", Needs: []Need{NeedsProxy}, New: newLinkDown},
	)
}

// Partition disconnects a component from the stack network, so that nothing on
// the network reaches it, nor the phones through its published port; Recover
// connects it again under the same aliases.
type Partition struct {
	Component string
	Network   string // default: the stack's network
	id        string
	aliases   []string
	network   string
}

func newPartition(spec Spec) (Fault, error) {
	t, err := target(spec, "", componentTarget)
	if err != nil {
		return nil, err
	}
	p := newParams(spec)
	f := &Partition{Component: t, Network: p.str("network", "")}
	return f, p.done()
}

// Name implements Fault.
func (f *Partition) Name() string { return "partition" }

// Target implements Fault.
func (f *Partition) Target() string { return f.Component }

// Inject implements Fault.
func (f *Partition) Inject(ctx context.Context, env *Env) error {
	c, err := env.container(ctx, f.Component)
	if err != nil {
		return err
	}
	nw := f.Network
	if nw == "" {
		if env.Stack == nil {
			return errors.New("partition: name the network (parameter network) or give the environment its stack")
		}
		nw = env.Stack.Network
	}
	if err := env.network(ctx, nw); err != nil {
		return err
	}
	var ep *network.EndpointSettings
	if c.NetworkSettings != nil {
		ep = c.NetworkSettings.Networks[nw]
	}
	if ep == nil {
		return fmt.Errorf("partition %s: it is not attached to network %s", f.Component, nw)
	}
	f.id, f.network = c.ID, nw
	// The short container id Docker adds as an alias comes back by itself.
	f.aliases = nil
	for _, a := range ep.Aliases {
		if !strings.HasPrefix(c.ID, a) {
			f.aliases = append(f.aliases, a)
		}
	}
	sort.Strings(f.aliases)
	if _, err := env.Run.Docker.NetworkDisconnect(ctx, nw, client.NetworkDisconnectOptions{Container: c.ID}); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", f.Component, nw, err)
	}
	return nil
}

// Recover implements Fault.
func (f *Partition) Recover(ctx context.Context, env *Env) error {
	if f.id == "" {
		return nil
	}
	c, err := env.container(ctx, f.id)
	if err != nil {
		return err
	}
	if c.NetworkSettings != nil && c.NetworkSettings.Networks[f.network] != nil {
		return nil // already connected
	}
	if err := env.network(ctx, f.network); err != nil {
		return err
	}
	_, err = env.Run.Docker.NetworkConnect(ctx, f.network, client.NetworkConnectOptions{
		Container:      f.id,
		EndpointConfig: &network.EndpointSettings{Aliases: f.aliases},
	})
	if err != nil {
		return fmt.Errorf("reconnect %s to %s: %w", f.Component, f.network, err)
	}
	return nil
}

// Wait implements Fault.
func (f *Partition) Wait(ctx context.Context, env *Env) error { return env.ready(ctx, f.Component) }

// Detail implements Detailer.
func (f *Partition) Detail() string {
	if f.network == "" {
		return ""
	}
	return fmt.Sprintf("network %s, aliases %s", f.network, strings.Join(f.aliases, ","))
}

const linkTarget = "a link: " + stack.LinkPhonesSyncd + " or " + stack.LinkSyncdPostgres

// Toxic puts a Toxiproxy toxic on one link of the fault proxy: latency,
// bandwidth, connection-reset or timeout. Recover takes it off.
type Toxic struct {
	Kind  string // the registered name: latency, bandwidth, connection-reset, timeout
	Link  string // stack.LinkPhonesSyncd or stack.LinkSyncdPostgres
	Toxic stack.Toxic
	added bool
}

func toxicMaker(kind string) func(Spec) (Fault, error) {
	return func(spec Spec) (Fault, error) { return newToxic(kind, spec) }
}

func newToxic(kind string, spec Spec) (Fault, error) {
	link, err := target(spec, "", linkTarget)
	if err != nil {
		return nil, err
	}
	if link != stack.LinkPhonesSyncd && link != stack.LinkSyncdPostgres {
		return nil, fmt.Errorf("target %q is not a link: name %s", link, linkTarget)
	}
	p := newParams(spec)
	stream := p.str("stream", "downstream", "downstream", "upstream")
	t := stack.Toxic{Name: "firedrill-" + kind + "-" + stream, Stream: stream, Toxicity: 1, Attributes: map[string]any{}}
	switch kind {
	case "latency":
		t.Type = "latency"
		t.Attributes["latency"] = p.duration("latency", 500*time.Millisecond).Milliseconds()
		t.Attributes["jitter"] = p.duration("jitter", 0).Milliseconds()
	case "bandwidth":
		t.Type = "bandwidth"
		t.Attributes["rate"] = p.integer("rate", 16, 1, 1<<30) // KB/s
	case "connection-reset":
		t.Type = "reset_peer"
		t.Attributes["timeout"] = p.duration("after", 0).Milliseconds()
	case "timeout":
		t.Type = "timeout"
		t.Attributes["timeout"] = p.duration("close-after", 0).Milliseconds()
	default:
		return nil, fmt.Errorf("unknown toxic kind %q", kind)
	}
	t.Toxicity = float32(p.integer("percent", 100, 1, 100)) / 100 // share of connections affected
	if err := p.done(); err != nil {
		return nil, err
	}
	return &Toxic{Kind: kind, Link: link, Toxic: t}, nil
}

// Name implements Fault.
func (f *Toxic) Name() string { return f.Kind }

// Target implements Fault.
func (f *Toxic) Target() string { return f.Link }

func proxyOf(ctx context.Context, env *Env) (*stack.Proxy, error) {
	if env.proxy() == nil {
		return nil, errors.New("no fault proxy: start the stack WithProxy")
	}
	if _, err := env.container(ctx, Proxy); err != nil {
		return nil, err
	}
	return env.proxy(), nil
}

// Inject implements Fault.
func (f *Toxic) Inject(ctx context.Context, env *Env) error {
	p, err := proxyOf(ctx, env)
	if err != nil {
		return err
	}
	if err := p.AddToxic(ctx, f.Link, f.Toxic); err != nil {
		return err
	}
	f.added = true
	return nil
}

// Recover implements Fault.
func (f *Toxic) Recover(ctx context.Context, env *Env) error {
	if !f.added {
		return nil
	}
	p, err := proxyOf(ctx, env)
	if err != nil {
		return err
	}
	if err := p.RemoveToxic(ctx, f.Link, f.Toxic.Name); err != nil {
		return err
	}
	f.added = false
	return nil
}

// Wait implements Fault.
func (f *Toxic) Wait(ctx context.Context, env *Env) error {
	p, err := proxyOf(ctx, env)
	if err != nil {
		return err
	}
	return poll(ctx, func(ctx context.Context) error {
		ts, err := p.Toxics(ctx, f.Link)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Name == f.Toxic.Name {
				return fmt.Errorf("toxic %s still on %s", t.Name, f.Link)
			}
		}
		return nil
	})
}

// Detail implements Detailer.
func (f *Toxic) Detail() string {
	keys := make([]string, 0, len(f.Toxic.Attributes))
	for k := range f.Toxic.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, f.Toxic.Attributes[k]))
	}
	return fmt.Sprintf("%s %s %s", f.Toxic.Type, f.Toxic.Stream, strings.Join(parts, " "))
}

// LinkDown takes a link of the fault proxy down: open connections are closed and
// new ones refused, as when a switch between the two fails; Recover brings it up.
type LinkDown struct {
	Link string
	down bool
}

func newLinkDown(spec Spec) (Fault, error) {
	link, err := target(spec, "", linkTarget)
	if err != nil {
		return nil, err
	}
	if link != stack.LinkPhonesSyncd && link != stack.LinkSyncdPostgres {
		return nil, fmt.Errorf("target %q is not a link: name %s", link, linkTarget)
	}
	if err := newParams(spec).done(); err != nil {
		return nil, err
	}
	return &LinkDown{Link: link}, nil
}

// Name implements Fault.
func (f *LinkDown) Name() string { return "link-down" }

// Target implements Fault.
func (f *LinkDown) Target() string { return f.Link }

// Inject implements Fault.
func (f *LinkDown) Inject(ctx context.Context, env *Env) error {
	p, err := proxyOf(ctx, env)
	if err != nil {
		return err
	}
	if err := p.SetEnabled(ctx, f.Link, false); err != nil {
		return err
	}
	f.down = true
	return nil
}

// Recover implements Fault.
func (f *LinkDown) Recover(ctx context.Context, env *Env) error {
	if !f.down {
		return nil
	}
	p, err := proxyOf(ctx, env)
	if err != nil {
		return err
	}
	if err := p.SetEnabled(ctx, f.Link, true); err != nil {
		return err
	}
	f.down = false
	return nil
}

// Wait implements Fault.
func (f *LinkDown) Wait(ctx context.Context, env *Env) error {
	p, err := proxyOf(ctx, env)
	if err != nil {
		return err
	}
	return p.Ping(ctx)
}
