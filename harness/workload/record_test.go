package workload

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload/profile"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

// resetAfterBody reads the request body, then resets the connection (RST) without
// answering: the write reached the server and may have happened.
func resetAfterBody(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

func TestRecordingClientOutcomes(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	handlers := map[string]http.HandlerFunc{
		"created": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusCreated)
		},
		"precondition": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPreconditionFailed)
		},
		"server-error": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusInternalServerError)
		},
		"reset": resetAfterBody,
		"hang": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[r.URL.Path[1:]](w, r)
	}))
	defer srv.Close()

	// A port where nothing listens: the request never leaves.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	l.Close()

	path := filepath.Join(t.TempDir(), "run.ledger")
	lw, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 1, Profile: "test"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("{\"game\":\"tetris\"}\n")
	digest, err := canon.Digest(model.KindAppData, body)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		server string
		path   string
		op     ledger.Op
		want   ledger.Outcome
		status int
		sent   bool
	}{
		{"201 Created", srv.URL, "created", ledger.OpPut, ledger.OK, 201, true},
		{"412 Precondition Failed", srv.URL, "precondition", ledger.OpPut, ledger.Failed, 412, true},
		{"500 after reading the body", srv.URL, "server-error", ledger.OpPut, ledger.Ambiguous, 500, true},
		{"connection reset after the body", srv.URL, "reset", ledger.OpPut, ledger.Ambiguous, 0, true},
		{"hang until timeout", srv.URL, "hang", ledger.OpPut, ledger.Ambiguous, 0, true},
		{"connection refused", "http://" + deadAddr, "created", ledger.OpPut, ledger.Failed, 0, false},
		{"delete 500", srv.URL, "server-error", ledger.OpDelete, ledger.Ambiguous, 500, true},
	}
	for _, tc := range cases {
		c, err := dav.New(tc.server, "alice", "secret", &http.Client{Transport: &http.Transport{}})
		if err != nil {
			t.Fatal(err)
		}
		rc := NewRecordingClient(c, lw)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		w := Write{Kind: model.KindAppData, Name: "tetris/" + tc.path + ".json", URL: tc.server + "/" + tc.path,
			Op: tc.op, ContentType: "application/json", IfNoneMatch: "*"}
		if tc.op == ledger.OpPut {
			w.Body, w.Digest = body, digest
		}
		res, out, err := rc.Attempt(ctx, w)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if out != tc.want || res.Status != tc.status || res.Sent != tc.sent {
			t.Errorf("%s: outcome %v status %d sent %v, want %v %d %v (err %v)", tc.name, out, res.Status, res.Sent,
				tc.want, tc.status, tc.sent, res.Err)
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	led, err := ledger.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if led.CutShort != nil || led.Pending() != 0 {
		t.Errorf("closed ledger: cut short %v, %d attempts without outcome", led.CutShort, led.Pending())
	}
	if led.Len() != len(cases) {
		t.Fatalf("ledger holds %d records, want one per attempt (%d)", led.Len(), len(cases))
	}
	for i, r := range led.Records() {
		tc := cases[i]
		if r.Outcome != tc.want || r.Op != tc.op || led.User(r.User) != "alice" || r.Kind != model.KindAppData {
			t.Errorf("record %d (%s): %+v", i, tc.name, r)
		}
		if key := led.ItemKey(r.Item); key != "appdata/tetris/"+tc.path+".json" {
			t.Errorf("record %d: item %q", i, key)
		}
		if coll := led.ItemCollection(r.Item); coll != "/" {
			t.Errorf("record %d: collection %q, want the URL's parent path /", i, coll)
		}
		if tc.op == ledger.OpPut && (r.Digest != digest || r.Size != uint32(len(body))) {
			t.Errorf("record %d: digest %v size %d, want %v %d", i, r.Digest, r.Size, digest, len(body))
		}
		if r.Return < r.Call {
			t.Errorf("record %d: return %d before call %d", i, r.Return, r.Call)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		res  dav.WriteResult
		want ledger.Outcome
	}{
		{dav.WriteResult{Status: 200, Sent: true}, ledger.OK},
		{dav.WriteResult{Status: 204, Sent: true}, ledger.OK},
		{dav.WriteResult{Status: 301, Sent: true}, ledger.Failed},
		{dav.WriteResult{Status: 403, Sent: true}, ledger.Failed},
		{dav.WriteResult{Status: 429, Sent: true}, ledger.Failed},
		{dav.WriteResult{Status: 502, Sent: true}, ledger.Ambiguous},
		{dav.WriteResult{Status: 0, Sent: true}, ledger.Ambiguous},
		{dav.WriteResult{Status: 0, Sent: false}, ledger.Failed},
	} {
		if got := Classify(tc.res); got != tc.want {
			t.Errorf("Classify(%+v) = %v, want %v", tc.res, got, tc.want)
		}
	}
}

func TestCollection(t *testing.T) {
	for url, want := range map[string]string{
		"http://h/dav/u1/contacts/a.vcf":               "/dav/u1/contacts/",
		"http://h/dav/u1/apps/tetris/highscores.json":  "/dav/u1/apps/tetris/",
		"http://h/dav/ann%20smith/calendar/x.ics":      "/dav/ann%20smith/calendar/",
		"http://h/dav/u1/contacts/":                    "/dav/u1/",
		"http://h/x":                                   "/",
		"http://h":                                     "/",
		"http://h/dav/u1/photos/IMG_0001.jpg?x=1#frag": "/dav/u1/photos/",
		"://bad": "",
	} {
		if got := Collection(url); got != want {
			t.Errorf("Collection(%q) = %q, want %q", url, got, want)
		}
	}
}

// TestAttemptIsOnRecordBeforeItLeaves: when the server sees a request, the
// ledger file already holds its attempt, without an outcome.
func TestAttemptIsOnRecordBeforeItLeaves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.ledger")
	lw, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	var seen string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		l, err := ledger.Load(path)
		switch {
		case err != nil:
			seen = err.Error()
		case l.Len() != 1 || l.Pending() != 1 || l.ItemKey(0) != "note/n.ics" || l.ItemCollection(0) != "/dav/alice/notes/":
			seen = fmt.Sprintf("the ledger holds %d writes, %d pending", l.Len(), l.Pending())
		default:
			seen = "on record"
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c, err := dav.New(srv.URL, "alice", "secret", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
	_, out, err := NewRecordingClient(c, lw).Attempt(context.Background(), Write{Kind: model.KindNote, Name: "n.ics",
		URL: srv.URL + "/dav/alice/notes/n.ics", Op: ledger.OpPut, ContentType: "text/calendar", Body: body})
	if err != nil || out != ledger.OK {
		t.Fatalf("attempt: %v, %v", out, err)
	}
	if seen != "on record" {
		t.Errorf("when the request arrived: %s", seen)
	}
}

// TestUnrecordableWriteIsNotSent: a write the ledger cannot take never
// reaches the server.
func TestUnrecordableWriteIsNotSent(t *testing.T) {
	lw, err := ledger.Create(filepath.Join(t.TempDir(), "run.ledger"), time.Now(), ledger.Meta{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c, err := dav.New(srv.URL, "alice", "secret", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	rc := NewRecordingClient(c, lw)
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err = rc.Attempt(context.Background(), Write{Kind: model.KindNote, Name: "n.ics", URL: srv.URL + "/dav/alice/notes/n.ics",
		Op: ledger.OpPut, ContentType: "text/calendar", Body: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "not sent") || requests.Load() != 0 {
		t.Errorf("attempt on a closed ledger: %v; the server saw %d requests", err, requests.Load())
	}
}

// killedLoadEnv names the ledger a child process of TestKilledLoadLeavesAnHonestLedger loads into.
const killedLoadEnv = "FIREDRILL_TEST_KILLED_LOAD"

// TestKilledLoadLeavesAnHonestLedger runs a load in a child process against
// an in-memory server and kills it with SIGKILL in the middle of a write: the
// ledger it leaves loads as cut short, and verifying the server against it
// finds no damage (every write the server holds is on record; the write the
// kill interrupted is ambiguous).
func TestKilledLoadLeavesAnHonestLedger(t *testing.T) {
	const users, seed = 6, 5
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.PhotoSizes = []profile.Bucket{{Min: 20 << 10, Max: 30 << 10, Weight: 1}}
	p.Retry.Base, p.Retry.Max = profile.Duration(time.Millisecond), profile.Duration(5*time.Millisecond)
	accts := accounts.Generate(users, seed)
	if path := os.Getenv(killedLoadEnv); path != "" {
		lw, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: seed, Profile: "tiny"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(context.Background(), Config{Server: os.Getenv(killedLoadEnv + "_SERVER"), Accounts: accts, Profile: p, Seed: seed, Ledger: lw})
		fmt.Printf("load ended before the kill: %v\n", err)
		select {} // the harness dies; it never closes its ledger
	}
	pass := map[string]string{}
	for _, a := range accts {
		pass[a.Username] = a.Password
	}
	mem := newMemDAV(pass)
	var (
		mu     sync.Mutex
		puts   int
		child  *exec.Cmd
		killed bool
	)
	const killAt = 60 // the PUT during which the harness dies
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			mem.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		puts++
		n := puts
		mu.Unlock()
		mem.ServeHTTP(w, r) // applied: the phone will never learn it
		if n == killAt {
			mu.Lock()
			killed = child.Process.Kill() == nil
			mu.Unlock()
		}
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "run.ledger")
	child = exec.Command(os.Args[0], "-test.run=^TestKilledLoadLeavesAnHonestLedger$")
	child.Env = append(os.Environ(), killedLoadEnv+"="+path, killedLoadEnv+"_SERVER="+srv.URL)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	mu.Lock()
	if err := child.Start(); err != nil {
		mu.Unlock()
		t.Fatal(err)
	}
	mu.Unlock()
	_ = child.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !killed {
		t.Fatalf("the load made %d PUTs and was never killed: %s", puts, out.String())
	}
	led, err := ledger.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if led.CutShort == nil || led.Pending() < 1 {
		t.Fatalf("ledger of a killed load: cut short %v, %d attempts without outcome; want cut short with the interrupted write", led.CutShort, led.Pending())
	}
	// As firedrill verify does: the users the ledger has writes for.
	var started []accounts.Account
	for _, a := range accts {
		if slices.Contains(led.Users(), a.Username) {
			started = append(started, a)
		}
	}
	o, err := observe.Observe(context.Background(), observe.Options{Server: srv.URL, Accounts: started})
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for _, r := range led.Records() {
		last = max(last, r.Return)
	}
	res := verify.Check(verify.Input{Ledger: led, Observation: *o, Mode: verify.Latest, RecoveryPoint: last})
	if res.Status != verify.Pass || res.Counts.Ambiguous < 1 {
		t.Errorf("verify after the kill: %s", res.Summary(5, 5))
	}
	t.Logf("killed during PUT %d: %d writes on record, %d without outcome; %s", killAt, led.Len(), led.Pending(), res.Reason)
}
