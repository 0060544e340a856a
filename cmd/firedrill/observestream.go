package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/progress"
)

// observeInOrder reads accounts back with opts.Concurrency workers and hands
// each user's observation to take in the accounts' order, so what the
// checker sees (and the canary picks) does not depend on which server
// answer came first. At most window users are read ahead of the one take
// waits for: memory stays bounded however many users there are.
func observeInOrder(ctx context.Context, opts observe.Options, accts []accounts.Account, window int, take func(model.UserObservation)) error {
	conc := max(opts.Concurrency, 1)
	window = max(window, conc)
	type result struct {
		i  int
		uo model.UserObservation
	}
	var items atomic.Int64
	meter := progress.Start(opts.Progress, opts.ProgressTTY, "observe", len(accts), func(el time.Duration) string {
		n := items.Load()
		return fmt.Sprintf("items %d  %.0f items/s", n, float64(n)/max(el.Seconds(), 1e-9))
	})
	defer meter.Stop()
	tokens := make(chan struct{}, window)
	jobs := make(chan int)
	results := make(chan result)
	go func() {
		defer close(jobs)
		for i := range accts {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results <- result{i, observe.User(ctx, opts, accts[i])}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	pending := map[int]model.UserObservation{}
	next := 0
	for r := range results {
		pending[r.i] = r.uo
		for {
			uo, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			items.Add(int64(len(uo.Items)))
			take(uo)
			meter.Done()
			<-tokens
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("observe: %d of %d users read: %w", next, len(accts), err)
	}
	return nil
}
