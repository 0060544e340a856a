package workload

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

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
