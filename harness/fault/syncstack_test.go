package fault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/timeline"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// phone is the little HTTP client these tests use as a device: it talks to
// syncd through the fault proxy, as the phones do.
type phone struct {
	base, user, pass string
	http             *http.Client
}

func (p *phone) do(ctx context.Context, method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if p.user != "" {
		req.SetBasicAuth(p.user, p.pass)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// get fetches a path within limit and returns status and body.
func (p *phone) get(path string, limit time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return p.do(ctx, http.MethodGet, path, "", nil)
}

// davDevice is a device whose local store is one item it fetches from syncd.
type davDevice struct {
	id   string
	ph   *phone
	path string
	mu   sync.Mutex
	body []byte
	// serverUpAtReset records whether syncd answered during Reset.
	serverUpAtReset bool
}

func (d *davDevice) ID() string { return d.id }

func (d *davDevice) Reset(ctx context.Context) error {
	st, _, err := d.ph.get("/healthz", 2*time.Second)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.serverUpAtReset = err == nil && st == http.StatusOK
	d.body = nil
	return nil
}

func (d *davDevice) Resync(ctx context.Context) error {
	st, body, err := d.ph.do(ctx, http.MethodGet, d.path, "", nil)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", d.path, st)
	}
	d.mu.Lock()
	d.body = body
	d.mu.Unlock()
	return nil
}

type davDevices []*davDevice

func (s davDevices) Devices(selector string) ([]fault.Device, error) {
	var out []fault.Device
	for _, d := range s {
		out = append(out, d)
	}
	return out, nil
}

// TestFaultsAgainstTheSyncStack runs faults against the whole reference stack,
// started with the fault proxy interposed: phones reach syncd through the
// proxy's phones-syncd link and syncd reaches PostgreSQL through its
// syncd-postgres link. Each fault's effect is seen by a phone, and Recover
// brings service back.
func TestFaultsAgainstTheSyncStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := stacktest.Run(t)
	s, err := stack.Start(ctx, run, stack.WithName("faultstack"), stack.WithProxy())
	if err != nil {
		t.Fatal(err)
	}
	env := &fault.Env{Run: run, Stack: s, Timeline: timeline.New(), Seed: testSeed, WaitTimeout: 2 * time.Minute}
	base, err := s.Proxy.SyncdURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin := &phone{base: base, http: &http.Client{}}
	body, _ := json.Marshal(map[string]string{"username": "alice", "password": "sidekick-2009"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/users", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.Server.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := admin.http.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("provision alice through the proxy: %v %v", resp, err)
	}
	ph := &phone{base: base, user: "alice", pass: "sidekick-2009", http: &http.Client{}}

	// Alice's phone stores a contact with a photo, a zoned event and a note.
	prof, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(testSeed, prof)
	put := func(k model.Kind, coll, ctype string, want func([]byte) bool) string {
		t.Helper()
		for i := range 50 {
			it := g.Item("alice", k, i, 0)
			if !want(it.Body) {
				continue
			}
			path := "/dav/alice/" + coll + "/" + it.Name
			st, resp, err := ph.do(ctx, http.MethodPut, path, ctype, it.Body)
			if err != nil || st/100 != 2 {
				t.Fatalf("PUT %s: %d %s %v", path, st, resp, err)
			}
			return path
		}
		t.Fatalf("no generated %s fits", k)
		return ""
	}
	contact := put(model.KindContact, "contacts/default", "text/vcard", func(b []byte) bool { return bytes.Contains(b, []byte("\nPHOTO")) })
	event := put(model.KindEvent, "calendars/default", "text/calendar", func(b []byte) bool { return bytes.Contains(b, []byte("\nDTSTART;TZID=")) })
	note := put(model.KindNote, "calendars/default", "text/calendar", func(b []byte) bool { return bytes.Contains(b, []byte("\nDESCRIPTION:")) })

	healthy := func(t *testing.T, limit time.Duration) (time.Duration, error) {
		t.Helper()
		start := time.Now()
		st, body, err := ph.get("/healthz", limit)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("/healthz answered %d: %s", st, body)
		}
		return time.Since(start), err
	}
	if _, err := healthy(t, 5*time.Second); err != nil {
		t.Fatalf("through the proxy before any fault: %v", err)
	}

	t.Run("latency on phones-syncd and a kill of syncd at once", func(t *testing.T) {
		lat, _ := fault.New(fault.Spec{Name: "latency", Target: stack.LinkPhonesSyncd, Params: map[string]string{"latency": "300ms"}})
		kill, _ := fault.New(fault.Spec{Name: "kill-9", Target: fault.Syncd})
		la, err := fault.Inject(ctx, env, lat)
		if err != nil {
			t.Fatal(err)
		}
		if d, err := healthy(t, 10*time.Second); err != nil || d < 300*time.Millisecond {
			t.Errorf("with 300ms latency /healthz took %v (%v)", d, err)
		}
		ka, err := fault.Inject(ctx, env, kill)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := healthy(t, 3*time.Second); err == nil {
			t.Error("a phone reached syncd while it was killed")
		}
		if err := ka.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if d, err := healthy(t, 10*time.Second); err != nil || d < 300*time.Millisecond {
			t.Errorf("after syncd came back, still with latency, /healthz took %v (%v)", d, err)
		}
		if err := la.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if toxics, err := env.Stack.Proxy.Toxics(ctx, stack.LinkPhonesSyncd); err != nil || len(toxics) != 0 {
			t.Errorf("after both recovered the phones' link carries toxics %+v (%v), want none", toxics, err)
		}
		if _, err := healthy(t, 5*time.Second); err != nil {
			t.Errorf("after both recovered /healthz failed: %v", err)
		}
		l := recorded(t, env, "latency", stack.LinkPhonesSyncd)
		k := recorded(t, env, "kill-9", fault.Syncd)
		if !(l.Start.Before(k.Start) && k.End.Before(l.End)) {
			t.Errorf("the kill's span %v..%v is not inside the latency's %v..%v", k.Start, k.End, l.Start, l.End)
		}
	})
	t.Run("syncd-postgres link down makes syncd unavailable", func(t *testing.T) {
		injectRecover(t, env, fault.Spec{Name: "link-down", Target: stack.LinkSyncdPostgres}, func() {
			st, _, err := ph.get("/healthz", 20*time.Second)
			if err != nil || st != http.StatusServiceUnavailable {
				t.Errorf("with its database link down syncd's /healthz answered %d (%v), want 503", st, err)
			}
		})
		if _, err := healthy(t, 20*time.Second); err != nil {
			t.Errorf("after the link came back: %v", err)
		}
	})
	for _, name := range []string{"partition", "pause", "graceful-restart"} {
		t.Run(name+" of syncd", func(t *testing.T) {
			injectRecover(t, env, fault.Spec{Name: name, Target: fault.Syncd}, func() {
				if _, err := healthy(t, 3*time.Second); err == nil {
					t.Errorf("a phone reached syncd during %s", name)
				}
			})
			if _, err := healthy(t, 10*time.Second); err != nil {
				t.Errorf("after %s: %v", name, err)
			}
		})
	}

	dev := &davDevice{id: "alice/1", ph: ph, path: contact}
	if err := dev.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	env.Devices = davDevices{dev}
	t.Run("botched schema migration, then a phone reset during the outage", func(t *testing.T) {
		f := injectRecover(t, env, fault.Spec{Name: "botched-schema-migration"}, nil)
		t.Logf("%s", f.(fault.Detailer).Detail())
		get := func(path string) string {
			st, b, err := ph.get(path, 10*time.Second)
			if err != nil || st != http.StatusOK {
				t.Fatalf("GET %s after the upgrade: %d %v", path, st, err)
			}
			return string(b)
		}
		if c := get(contact); strings.Contains(c, "\nPHOTO") {
			t.Errorf("after the upgrade the contact keeps its photo:\n%.300s", c)
		}
		if e := get(event); strings.Contains(e, "\nDTSTART;TZID=") {
			t.Errorf("after the upgrade the event keeps its zone:\n%s", e)
		}
		n := get(note)
		lines := strings.Split(strings.ReplaceAll(n, "\r\n", "\n"), "\n")
		cut := false
		for i, l := range lines {
			if v, ok := strings.CutPrefix(l, "DESCRIPTION:"); ok {
				cut = utf8.RuneCountInString(v) <= 24 && !strings.HasPrefix(lines[i+1], " ")
			}
		}
		if !cut {
			t.Errorf("after the upgrade the note's DESCRIPTION is not cut to 24 characters:\n%s", n)
		}
		// The phone still holds the photo; reset it while syncd is down, and the
		// resync brings it the mangled contact.
		if !bytes.Contains(dev.body, []byte("\nPHOTO")) {
			t.Fatal("the phone lost its photo before its reset")
		}
		injectRecover(t, env, fault.Spec{Name: "device-reset"}, nil)
		if dev.serverUpAtReset {
			t.Error("the phone was reset while syncd was up")
		}
		if bytes.Contains(dev.body, []byte("\nPHOTO")) || !bytes.Contains(dev.body, []byte("BEGIN:VCARD")) {
			t.Errorf("after reset and resync the phone holds:\n%.300s", dev.body)
		}
		recorded(t, env, "device-reset", "devices:all")
	})
}
