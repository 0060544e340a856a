package workload

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// flakyFiles is a WebDAV-ish file store with strong ETags and conditional
// requests; it can be told to apply the next writes and then answer 500, as a
// server that commits and crashes before answering.
type flakyFiles struct {
	mu           sync.Mutex
	files        map[string][]byte
	etags        map[string]string
	n            int
	applyThen500 int // the next writes apply and answer 500
}

func (f *flakyFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	etag, exists := f.etags[p]
	switch r.Method {
	case http.MethodGet:
		if !exists {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", etag)
		w.Write(f.files[p])
		return
	case http.MethodPut, http.MethodDelete:
		if (r.Header.Get("If-None-Match") == "*" && exists) ||
			(r.Header.Get("If-Match") != "" && r.Header.Get("If-Match") != etag) {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		if r.Method == http.MethodDelete {
			if !exists {
				http.NotFound(w, r)
				return
			}
			delete(f.files, p)
			delete(f.etags, p)
		} else {
			f.n++
			f.files[p] = body
			f.etags[p] = fmt.Sprintf(`"%d"`, f.n)
		}
		if f.applyThen500 > 0 {
			f.applyThen500--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodPut {
			w.Header().Set("ETag", f.etags[p])
			if exists {
				w.WriteHeader(http.StatusNoContent)
			} else {
				w.WriteHeader(http.StatusCreated)
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "no", http.StatusMethodNotAllowed)
	}
}

func testDevice(t *testing.T, srvURL string, lw *ledger.Writer) *device {
	t.Helper()
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.Retry.Base, p.Retry.Max = profile.Duration(time.Millisecond), profile.Duration(5*time.Millisecond)
	r := &runner{cfg: Config{Server: srvURL, Seed: 1, Ledger: lw}, prof: p, gen: gen.New(1, p), log: newLimitedLog(nil, 0),
		covered: map[model.Kind]string{}}
	c, err := dav.New(srvURL, "alice", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := r.newDevice(c, "alice", 0)
	d.rc = NewRecordingClient(c, lw)
	for _, k := range model.Kinds {
		d.colls[k] = srvURL + "/files/" + k.String() + "/"
	}
	d.apps = d.colls[model.KindAppData]
	d.made = map[string]bool{}
	for _, g := range []string{"tetris", "bejeweled", "snake", "solitaire", "bubble-breaker", "sudoku", "minesweeper", "pac-man"} {
		d.made[g] = true
	}
	return d
}

func outcomes(t *testing.T, path string) []ledger.Outcome {
	t.Helper()
	l, err := ledger.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Outcome
	for _, r := range l.Records() {
		out = append(out, r.Outcome)
	}
	return out
}

// TestAmbiguousCreateThen412 is a phone whose create was committed but answered
// 500: it retries with If-None-Match: *, gets 412, reads the item back, finds its
// own content and carries on with the right ETag.
func TestAmbiguousCreateThen412(t *testing.T) {
	for _, kind := range []model.Kind{model.KindContact, model.KindAppData} {
		t.Run(kind.String(), func(t *testing.T) {
			f := &flakyFiles{files: map[string][]byte{}, etags: map[string]string{}, applyThen500: 1}
			srv := httptest.NewServer(f)
			defer srv.Close()
			path := filepath.Join(t.TempDir(), "run.ledger")
			lw, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			d := testDevice(t, srv.URL, lw)
			ctx := context.Background()
			ops := []gen.Op{{Op: gen.Create, Kind: kind, Index: 0}, {Op: gen.Update, Kind: kind, Index: 0, Version: 1},
				{Op: gen.Delete, Kind: kind, Index: 0, Version: 1}}
			for _, op := range ops {
				if err := d.do(ctx, op); err != nil {
					t.Fatal(err)
				}
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			want := []ledger.Outcome{ledger.Ambiguous, ledger.Failed, ledger.OK, ledger.OK}
			if got := outcomes(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("ledger outcomes %v, want %v (create 500, create 412, update, delete)", got, want)
			}
			if len(f.files) != 0 || d.r.stats.Conflicts.Load() != 0 || d.r.stats.Refused.Load() != 0 {
				t.Errorf("files left %d, conflicts %d, refused %d", len(f.files), d.r.stats.Conflicts.Load(), d.r.stats.Refused.Load())
			}
		})
	}
}

// TestNeverOverwritesAnotherVersion is a phone whose item was changed by someone
// else: its If-Match update gets 412, and it leaves the other version alone.
func TestNeverOverwritesAnotherVersion(t *testing.T) {
	f := &flakyFiles{files: map[string][]byte{}, etags: map[string]string{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "run.ledger")
	lw, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := testDevice(t, srv.URL, lw)
	ctx := context.Background()
	if err := d.do(ctx, gen.Op{Op: gen.Create, Kind: model.KindAppData, Index: 0}); err != nil {
		t.Fatal(err)
	}
	name := d.r.gen.Name("alice", model.KindAppData, 0)
	p := "/files/appdata/" + name
	f.mu.Lock()
	f.files[p], f.etags[p] = []byte(`{"someone":"else"}`), `"other"`
	f.mu.Unlock()
	if err := d.do(ctx, gen.Op{Op: gen.Update, Kind: model.KindAppData, Index: 0, Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := string(f.files[p]); got != `{"someone":"else"}` {
		t.Errorf("the device overwrote another version: %s", got)
	}
	if d.r.stats.Conflicts.Load() != 1 {
		t.Errorf("conflicts = %d, want 1", d.r.stats.Conflicts.Load())
	}
	want := []ledger.Outcome{ledger.OK, ledger.Failed}
	if got := outcomes(t, path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ledger outcomes %v, want %v", got, want)
	}
}
