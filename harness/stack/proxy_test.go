package stack_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/jackc/pgx/v5"
)

// TestProxyCarriesAndDelaysTheDatabaseLink starts the proxy beside a real
// PostgreSQL and checks that a connection through the syncd-postgres link works,
// that a latency toxic slows each round trip by at least its latency, and that a
// link taken down refuses connections until it is brought back.
func TestProxyCarriesAndDelaysTheDatabaseLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	pg := stacktest.SharedPostgres(t)
	p, err := stack.RunProxy(ctx, run, pg.Network, stack.WithProxyPostgresUpstream(pg.Alias+":5432"))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := p.Endpoint(ctx, stack.LinkSyncdPostgres)
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := pg.DSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ep)
	cfg.Host = host
	var portN uint16
	for _, c := range port {
		portN = portN*10 + uint16(c-'0')
	}
	cfg.Port = portN
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect through proxy: %v", err)
	}
	defer conn.Close(ctx)
	roundTrip := func() time.Duration {
		t.Helper()
		start := time.Now()
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("query through proxy: %v", err)
		}
		return time.Since(start)
	}
	base := roundTrip()
	if err := p.AddToxic(ctx, stack.LinkSyncdPostgres, stack.Toxic{Name: "lag", Type: "latency", Stream: "downstream", Toxicity: 1, Attributes: map[string]any{"latency": 300}}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(); d < 300*time.Millisecond {
		t.Errorf("round trip with 300 ms latency took %v (without: %v)", d, base)
	}
	toxics, err := p.Toxics(ctx, stack.LinkSyncdPostgres)
	if err != nil || len(toxics) != 1 || toxics[0].Name != "lag" {
		t.Errorf("toxics = %+v, %v; want the one named lag", toxics, err)
	}
	if err := p.RemoveToxic(ctx, stack.LinkSyncdPostgres, "lag"); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(); d >= 300*time.Millisecond {
		t.Errorf("round trip after removing the toxic took %v", d)
	}
	if err := p.SetEnabled(ctx, stack.LinkSyncdPostgres, false); err != nil {
		t.Fatal(err)
	}
	short, c2 := context.WithTimeout(ctx, 3*time.Second)
	if _, err := pgx.ConnectConfig(short, cfg); err == nil {
		t.Error("connected through a link that is down")
	}
	c2()
	if err := p.SetEnabled(ctx, stack.LinkSyncdPostgres, true); err != nil {
		t.Fatal(err)
	}
	c3, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect after the link came back: %v", err)
	}
	c3.Close(ctx)
	if err := p.AddToxic(ctx, "nowhere", stack.Toxic{Name: "x", Type: "latency"}); err == nil {
		t.Error("AddToxic accepted an unknown link")
	}
}
