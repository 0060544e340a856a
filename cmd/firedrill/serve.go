package main

import (
	"context"
	"fmt"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/live"
)

// livePage starts the live page of a run when --serve names an address (""
// starts none). It points opts at the page (its watcher, its "next stage"
// button, its progress feed) and returns the context the drill must run in,
// which the page's "stop the drill" cancels, and the function to call when
// the run has ended: when the run wrote its report, it keeps that served
// until Ctrl-C; then it stops the page.
func livePage(ctx context.Context, e *env, addr string, public bool, sc drill.Scenario, opts *drill.Options) (context.Context, func(), error) {
	if addr == "" {
		if public {
			return ctx, nil, fmt.Errorf("--serve-public needs --serve ADDR")
		}
		return ctx, func() {}, nil
	}
	profile := sc.Profile
	if opts.Profile != "" {
		profile = opts.Profile
	}
	hub := live.NewHub(live.Info{Scenario: sc.Name, Summary: sc.Summary, Profile: profile, Seed: opts.Seed, Step: opts.Step})
	drillCtx, stop := context.WithCancel(ctx)
	page, err := live.Start(hub, live.Config{Addr: addr, Public: public, Stop: stop})
	if err != nil {
		stop()
		return ctx, nil, err
	}
	opts.Watch, opts.Next = hub, page.Next()
	fmt.Fprintf(e.stderr, "firedrill run: live page at %s\n", page.URL())
	return drillCtx, func() {
		if ctx.Err() == nil && hub.RunDir() != nil {
			fmt.Fprintf(e.stderr, "firedrill run: the final report stays at %s; press Ctrl-C to stop serving it\n", page.URL())
			<-ctx.Done()
		}
		stop()
		if err := page.Close(); err != nil {
			fmt.Fprintf(e.stderr, "firedrill run: %v\n", err)
		}
	}, nil
}
