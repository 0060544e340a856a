package populate_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/populate"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/stack/stacktest"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func TestMain(m *testing.M) { os.Exit(stacktest.Main(m)) }

var (
	refOnce  sync.Once
	refStack *stack.Stack
	refURL   string
	refErr   error
)

// reference returns the package's reference stack (PostgreSQL and syncd
// containers), started on first use.
func reference(t testing.TB) (*stack.Stack, string) {
	t.Helper()
	run := stacktest.Run(t)
	refOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if refStack, refErr = stack.Start(ctx, run, stack.WithName("populate")); refErr == nil {
			refURL, refErr = refStack.URL(ctx)
		}
	})
	if refErr != nil {
		t.Fatalf("start the reference stack: %v", refErr)
	}
	return refStack, refURL
}

const seed = 20260101

// runs numbers the tests' uses of the shared stack, so that -count=N makes
// fresh account names and batch ids each time.
var runs atomic.Int64

func unique(prefix string) string { return fmt.Sprintf("%s%d-", prefix, runs.Add(1)) }

// userItems generates the first n items of each kind for user.
func userItems(t testing.TB, g *gen.Generator, user string, n int) ([]gen.Item, []populate.Item) {
	t.Helper()
	var gi []gen.Item
	var pi []populate.Item
	for _, k := range model.Kinds {
		for i := range n {
			it := g.Item(user, k, i, 0)
			p, err := populate.ItemOf(user, it)
			if err != nil {
				t.Fatal(err)
			}
			gi, pi = append(gi, it), append(pi, p)
		}
	}
	return gi, pi
}

// TestImportThenReadThroughTheProtocol imports accounts with generated items
// and reads every body back through DAV as a phone would, byte for byte.
func TestImportThenReadThroughTheProtocol(t *testing.T) {
	st, server := reference(t)
	ctx := context.Background()
	prof, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(seed, prof)
	accts := accounts.Generate(3, seed)
	id := unique("rb")
	for i := range accts {
		accts[i].Username = id + accts[i].Username
	}
	var items []populate.Item
	want := map[string]map[string][]byte{} // user -> item key -> body
	for _, a := range accts {
		gi, pi := userItems(t, g, a.Username, 2)
		items = append(items, pi...)
		want[a.Username] = map[string][]byte{}
		for _, it := range gi {
			want[a.Username][it.Key()] = it.Body
		}
	}
	hc := dav.NewHTTPClient(4)
	ack, err := populate.Import(ctx, hc, server, st.Server.AdminToken, populate.Batch{ID: id + "batch", Scheme: populate.SchemeSSHA256, Accounts: accts, Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Users != 3 || ack.Items != len(items) || ack.Replayed || ack.XID == "" || ack.Sent.After(ack.Returned) {
		t.Fatalf("ack %+v", ack)
	}
	for _, a := range accts {
		c, err := dav.New(server, a.Username, a.Password, hc)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]byte{}
		for _, coll := range []struct {
			path string
			prop xml.Name
		}{{"contacts/default/", xml.Name{Space: "urn:ietf:params:xml:ns:carddav", Local: "address-data"}},
			{"calendars/default/", xml.Name{Space: "urn:ietf:params:xml:ns:caldav", Local: "calendar-data"}}} {
			ms, err := c.SyncCollection(ctx, server+"/dav/"+a.Username+"/"+coll.path, "", dav.PropGetETag, coll.prop)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range ms.Responses {
				got[r.Href] = []byte(r.Text(coll.prop))
			}
		}
		for key, body := range want[a.Username] {
			k, name, _ := model.SplitItemKey(key)
			href := ""
			switch k {
			case model.KindContact:
				href = "/dav/" + a.Username + "/contacts/default/" + name
			case model.KindEvent, model.KindTodo, model.KindNote:
				href = "/dav/" + a.Username + "/calendars/default/" + name
			case model.KindPhoto:
				href = "/dav/" + a.Username + "/photos/" + name
			case model.KindAppData:
				href = "/dav/" + a.Username + "/apps/" + name
			}
			if k.Semantic() {
				if !bytes.Equal(got[href], body) {
					t.Errorf("%s %s: sync-collection returned %d bytes, imported %d", a.Username, href, len(got[href]), len(body))
				}
				continue
			}
			b, etag, err := c.Get(ctx, server+href)
			if err != nil || !bytes.Equal(b, body) || etag == "" {
				t.Errorf("%s GET %s: %d bytes, %v; imported %d bytes", a.Username, href, len(b), err, len(body))
			}
		}
	}
	// The same batch again is answered from the first commit.
	again, err := populate.Import(ctx, hc, server, st.Server.AdminToken, populate.Batch{ID: id + "batch", Scheme: populate.SchemeSSHA256, Accounts: accts, Items: items})
	if err != nil || !again.Replayed || again.XID != ack.XID {
		t.Fatalf("replay: %+v, %v", again, err)
	}
}

func TestRefusalNamesTheRecord(t *testing.T) {
	st, server := reference(t)
	ctx := context.Background()
	accts := []accounts.Account{{Username: "refused-1", Password: "pw"}}
	items := []populate.Item{
		{User: "refused-1", Collection: "photos", Name: "a.jpg", Body: []byte{1}},
		{User: "refused-1", Collection: "contacts/default", Name: "x.vcf", ContentType: "text/vcard", Body: []byte("BEGIN:VCARD\r\n")},
	}
	_, err := populate.Import(ctx, nil, server, st.Server.AdminToken, populate.Batch{Scheme: populate.SchemeSSHA256, Accounts: accts, Items: items})
	var pe *populate.Error
	if !asError(err, &pe) || pe.Status != http.StatusBadRequest || pe.Record != 3 || pe.Ambiguous || !strings.Contains(pe.Msg, "vCard") {
		t.Fatalf("invalid vCard: %v (%+v)", err, pe)
	}
	if _, err := populate.Import(ctx, nil, server, st.Server.AdminToken, populate.Batch{Accounts: accts}); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("accounts without a scheme: %v", err)
	}
	_, err = populate.Import(ctx, nil, server, "wrong-token", populate.Batch{Items: items[:1]})
	if !asError(err, &pe) || pe.Status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	// Nothing of the refused batch was created: the account cannot log in.
	c, _ := dav.New(server, "refused-1", "pw", nil)
	if _, err := c.Propfind(ctx, server+"/dav/refused-1/", "0"); !dav.IsUnauthorized(err) {
		t.Fatalf("login of an account from a refused batch: %v", err)
	}
}

func asError(err error, target **populate.Error) bool {
	e, ok := err.(*populate.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestCreateAccountsInBatches(t *testing.T) {
	st, server := reference(t)
	ctx := context.Background()
	accts := accounts.Generate(25, seed+1)
	id := unique("batched")
	for i := range accts {
		accts[i].Username = id + accts[i].Username
	}
	acks, err := populate.CreateAccounts(ctx, nil, server, st.Server.AdminToken, accts, populate.SchemeSSHA256, id+"b", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(acks) != 3 || acks[0].Users != 10 || acks[2].Users != 5 || acks[2].Batch != id+"b-2" || acks[0].Replayed {
		t.Fatalf("acks %+v", acks)
	}
	// Sending them all again (a run continued after a crash) changes nothing.
	again, err := populate.CreateAccounts(ctx, nil, server, st.Server.AdminToken, accts, populate.SchemeSSHA256, id+"b", 10)
	if err != nil || !again[1].Replayed {
		t.Fatalf("again: %+v, %v", again, err)
	}
	for _, a := range []accounts.Account{accts[0], accts[24]} {
		c, _ := dav.New(server, a.Username, a.Password, nil)
		if _, err := c.Discover(ctx); err != nil {
			t.Errorf("discover as %s: %v", a.Username, err)
		}
	}
	if _, err := populate.CreateAccounts(ctx, nil, server, st.Server.AdminToken, accts, populate.SchemeSSHA256, "", 10); err == nil {
		t.Error("CreateAccounts without an id prefix was accepted")
	}
}

// TestLostAnswerIsAmbiguous: a server that takes the batch and hangs up
// leaves the outcome unknown; one that never got it does not.
func TestLostAnswerIsAmbiguous(t *testing.T) {
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer hangUp.Close()
	b := populate.Batch{ID: "lost", Items: []populate.Item{{User: "u", Collection: "photos", Name: "p", Body: []byte("x")}}}
	_, err := populate.Import(context.Background(), nil, hangUp.URL, "t", b)
	if !populate.IsAmbiguous(err) {
		t.Fatalf("hang-up after the request: %v, want ambiguous", err)
	}
	dead := hangUp.URL
	hangUp.Close()
	_, err = populate.Import(context.Background(), nil, dead, "t", b)
	if err == nil || populate.IsAmbiguous(err) {
		t.Fatalf("nothing listening: %v, want a plain failure", err)
	}
}

func TestItemOf(t *testing.T) {
	prof, _ := profile.Load("tiny")
	g := gen.New(seed, prof)
	want := map[model.Kind]string{model.KindContact: "contacts/default", model.KindEvent: "calendars/default",
		model.KindTodo: "calendars/default", model.KindNote: "calendars/default", model.KindPhoto: "photos"}
	for _, k := range model.Kinds {
		it := g.Item("u1", k, 0, 0)
		p, err := populate.ItemOf("u1", it)
		if err != nil {
			t.Fatal(err)
		}
		if k == model.KindAppData {
			if !strings.HasPrefix(p.Collection, "apps/") || p.Collection+"/"+p.Name != "apps/"+it.Name {
				t.Errorf("app data %s placed at %s/%s", it.Name, p.Collection, p.Name)
			}
			continue
		}
		if p.Collection != want[k] || p.Name != it.Name || !bytes.Equal(p.Body, it.Body) || p.User != "u1" {
			t.Errorf("%s placed at %+v", k, p)
		}
	}
	if _, err := populate.ItemOf("u1", gen.Item{Kind: model.KindAppData, Name: "flat.json"}); err == nil {
		t.Error("app data without a game directory was placed")
	}
}
