package observe

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// scripted is a small DAV server for unit tests, laid out like the reference
// server, that can be told to answer garbage in one place.
type scripted struct {
	mu    sync.Mutex
	files map[string][]byte // path -> body, e.g. /dav/alice/contacts/default/x.vcf
	pass  map[string]string
	fault map[string]string // fault -> user it applies to ("*" for all)
}

func (s *scripted) faulty(name, user string) bool {
	u, ok := s.fault[name]
	return ok && (u == "*" || u == user)
}

const ms = `<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav">%s</d:multistatus>`

func propResp(href, props string) string {
	return fmt.Sprintf(`<d:response><d:href>%s</d:href><d:propstat><d:prop>%s</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, href, props)
}

func write207(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	io.WriteString(w, fmt.Sprintf(ms, body))
}

// truncated announces more bytes than it sends.
func truncated(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Length", fmt.Sprint(len(body)+100))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reqBody, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	if strings.HasPrefix(p, "/.well-known/") {
		http.Redirect(w, r, "/dav/", http.StatusMovedPermanently)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || s.pass[user] != pass || user == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	home := "/dav/" + user + "/"
	switch {
	case r.Method == "PROPFIND" && p == "/dav/":
		write207(w, propResp(p, `<d:current-user-principal><d:href>/dav/principals/`+user+`/</d:href></d:current-user-principal>`))
	case r.Method == "PROPFIND" && p == "/dav/principals/"+user+"/":
		if s.faulty("principal-garbage", user) {
			io.WriteString(w, "<html>oops</html>")
			return
		}
		props := `<card:addressbook-home-set><d:href>` + home + `contacts/</d:href></card:addressbook-home-set>`
		if !s.faulty("no-caldav", user) {
			props += `<cal:calendar-home-set><d:href>` + home + `calendars/</d:href></cal:calendar-home-set>`
		}
		write207(w, propResp(p, props))
	case r.Method == "PROPFIND" && p == home+"contacts/":
		write207(w, propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`)+
			propResp(p+"default/", `<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>`))
	case r.Method == "PROPFIND" && p == home+"calendars/":
		write207(w, propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`)+
			propResp(p+"default/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>`+
				`<cal:supported-calendar-component-set><cal:comp name="VEVENT"/><cal:comp name="VTODO"/><cal:comp name="VJOURNAL"/></cal:supported-calendar-component-set>`))
	case r.Method == "REPORT" && strings.Contains(string(reqBody), "sync-collection"):
		if s.faulty("listing-garbage", user) {
			w.WriteHeader(http.StatusMultiStatus)
			io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>`)
			return
		}
		var b strings.Builder
		members := s.members(p)
		if s.faulty("paged", user) {
			// RFC 6578 truncation: half the members, a 507 on the collection, and a
			// token to continue from.
			half := len(members) / 2
			if strings.Contains(string(reqBody), "<d:sync-token>page2</d:sync-token>") {
				members = members[half:]
			} else {
				for _, f := range members[:half] {
					b.WriteString(propResp(f, `<d:getetag>"e1"</d:getetag>`))
				}
				b.WriteString(`<d:response><d:href>` + p + `</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>`)
				write207(w, b.String()+`<d:sync-token>page2</d:sync-token>`)
				return
			}
		}
		for _, f := range members {
			b.WriteString(propResp(f, `<d:getetag>"e1"</d:getetag>`))
		}
		write207(w, b.String()+`<d:sync-token>tok-1</d:sync-token>`)
	case r.Method == "REPORT" && strings.Contains(string(reqBody), "multiget"):
		data := "card:address-data"
		if strings.Contains(string(reqBody), "calendar-multiget") {
			data = "cal:calendar-data"
		}
		var b strings.Builder
		for _, part := range strings.Split(string(reqBody), "<d:href>")[1:] {
			href := html.UnescapeString(part[:strings.Index(part, "</d:href>")])
			body, ok := s.files[href]
			if !ok {
				b.WriteString(`<d:response><d:href>` + href + `</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`)
				continue
			}
			b.WriteString(propResp(href, `<d:getetag>"e1"</d:getetag><`+data+`>`+html.EscapeString(string(body))+`</`+data+`>`))
		}
		if s.faulty("multiget-truncated", user) {
			truncated(w, http.StatusMultiStatus, fmt.Sprintf(ms, b.String()))
			return
		}
		write207(w, b.String())
	case r.Method == "PROPFIND" && (p == home+"photos/" || strings.HasPrefix(p, home+"apps/")):
		if p == home+"photos/" && s.faulty("no-photos", user) {
			http.NotFound(w, r)
			return
		}
		var b strings.Builder
		b.WriteString(propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`))
		if r.Header.Get("Depth") == "1" {
			seen := map[string]bool{}
			for f := range s.files {
				rest, ok := strings.CutPrefix(f, p)
				if !ok {
					continue
				}
				if dir, _, isDir := strings.Cut(rest, "/"); isDir {
					if !seen[dir] {
						seen[dir] = true
						b.WriteString(propResp(p+dir+"/", `<d:resourcetype><d:collection/></d:resourcetype>`))
					}
					continue
				}
				b.WriteString(propResp(f, `<d:resourcetype/><d:getetag>"e1"</d:getetag>`))
			}
		}
		write207(w, b.String())
	case r.Method == http.MethodGet:
		body, ok := s.files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if s.faulty("photo-truncated", user) && strings.HasSuffix(p, ".jpg") {
			truncated(w, http.StatusOK, string(body[:len(body)/2]))
			return
		}
		w.Header().Set("ETag", `"e1"`)
		w.Write(body)
	default:
		http.Error(w, "not here", http.StatusNotImplemented)
	}
}

// members lists the files directly in the collection at p.
func (s *scripted) members(p string) []string {
	var out []string
	for f := range s.files {
		if path.Dir(f)+"/" == p {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// fixture builds a server with n users holding one item of every kind each, and
// the digests their items must observe as.
func fixture(t *testing.T, n int) (*scripted, []accounts.Account, map[string]map[string]model.Digest) {
	t.Helper()
	p, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	g := gen.New(5, p)
	s := &scripted{files: map[string][]byte{}, pass: map[string]string{}, fault: map[string]string{}}
	accts := accounts.Generate(n, 5)
	want := map[string]map[string]model.Digest{}
	for _, a := range accts {
		s.pass[a.Username] = a.Password
		want[a.Username] = map[string]model.Digest{}
		home := "/dav/" + a.Username + "/"
		for _, k := range model.Kinds {
			for i := 0; i < 2; i++ {
				it := g.Item(a.Username, k, i, 0)
				dir := map[model.Kind]string{model.KindContact: "contacts/default/", model.KindEvent: "calendars/default/",
					model.KindTodo: "calendars/default/", model.KindNote: "calendars/default/", model.KindPhoto: "photos/",
					model.KindAppData: "apps/"}[k]
				s.files[home+dir+it.Name] = it.Body
				d, err := canon.Digest(k, it.Body)
				if err != nil {
					t.Fatal(err)
				}
				want[a.Username][it.Key()] = d
			}
		}
	}
	return s, accts, want
}

func observeWith(t *testing.T, s *scripted, accts []accounts.Account, opts Options) *model.Observation {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	opts.Server, opts.Accounts = srv.URL, accts
	opts.Timeout = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs, err := Observe(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

func TestObserveIntact(t *testing.T) {
	s, accts, want := fixture(t, 5)
	obs := observeWith(t, s, accts, Options{KeepBodies: true, BatchSize: 3, Concurrency: 2})
	if len(obs.Users) != len(accts) {
		t.Fatalf("%d users observed, want %d", len(obs.Users), len(accts))
	}
	for i, uo := range obs.Users {
		if uo.User != accts[i].Username || uo.Unreadable != "" || len(uo.NotCovered) != 0 {
			t.Fatalf("user %d: %s unreadable %q not covered %v", i, uo.User, uo.Unreadable, uo.NotCovered)
		}
		got := map[string]model.Digest{}
		for _, it := range uo.Items {
			if it.Unreadable != "" {
				t.Errorf("%s %s unreadable: %s", uo.User, it.Key, it.Unreadable)
			}
			k, _, _ := model.SplitItemKey(it.Key)
			if k.Semantic() != (len(it.Body) > 0) {
				t.Errorf("%s %s: kept body of %d bytes", uo.User, it.Key, len(it.Body))
			}
			got[it.Key] = it.Digest
		}
		if len(got) != len(want[uo.User]) {
			t.Errorf("%s: %d items, want %d: %v", uo.User, len(got), len(want[uo.User]), got)
		}
		for key, d := range want[uo.User] {
			if got[key] != d {
				t.Errorf("%s %s: digest %v, want %v", uo.User, key, got[key], d)
			}
		}
	}
}

func TestObservePagedSync(t *testing.T) {
	s, accts, want := fixture(t, 2)
	s.fault["paged"] = "*"
	obs := observeWith(t, s, accts, Options{})
	for _, uo := range obs.Users {
		if uo.Unreadable != "" || len(uo.Items) != len(want[uo.User]) {
			t.Errorf("%s: %d items, want %d; unreadable %q", uo.User, len(uo.Items), len(want[uo.User]), uo.Unreadable)
		}
		for _, it := range uo.Items {
			if want[uo.User][it.Key] != it.Digest {
				t.Errorf("%s %s: digest %v, want %v", uo.User, it.Key, it.Digest, want[uo.User][it.Key])
			}
		}
	}
}

func TestObserveGarbage(t *testing.T) {
	s, accts, want := fixture(t, 6)
	u := func(i int) string { return accts[i].Username }
	s.fault["listing-garbage"] = u(0)
	s.fault["multiget-truncated"] = u(1)
	s.fault["photo-truncated"] = u(2)
	s.fault["principal-garbage"] = u(3)
	s.fault["no-caldav"] = u(4)
	s.fault["no-photos"] = u(4)
	// user 5: a contact that is not a vCard, and a wrong password for nobody.
	for f := range s.files {
		if strings.HasPrefix(f, "/dav/"+u(5)+"/contacts/") {
			s.files[f] = []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:half a card")
			break
		}
	}
	// The hint, as verify gives it from the ledger, names the kind of calendar
	// objects whose bodies could not be read.
	hint := func(user, name string) (model.Kind, bool) {
		for key := range want[user] {
			if k, n, _ := model.SplitItemKey(key); n == name {
				return k, true
			}
		}
		return 0, false
	}
	obs := observeWith(t, s, accts, Options{KindHint: hint})
	by := map[string]model.UserObservation{}
	for _, uo := range obs.Users {
		by[uo.User] = uo
	}
	unreadableItems := func(uo model.UserObservation) []string {
		var out []string
		for _, it := range uo.Items {
			if it.Unreadable != "" {
				out = append(out, it.Key)
			}
		}
		return out
	}
	if uo := by[u(0)]; !strings.Contains(uo.Unreadable, "garbage") {
		t.Errorf("garbage listing: user unreadable = %q", uo.Unreadable)
	}
	if uo := by[u(1)]; len(unreadableItems(uo)) != 8 {
		t.Errorf("truncated multiget: unreadable items %v, want every contact and calendar object", unreadableItems(uo))
	} else {
		for _, it := range uo.Items {
			if _, ok := want[u(1)][it.Key]; !ok {
				t.Errorf("truncated multiget: item %s is not one of the user's keys", it.Key)
			}
			if it.Unreadable != "" && !strings.Contains(it.Unreadable, "truncated body") {
				t.Errorf("truncated multiget: %s unreadable %q", it.Key, it.Unreadable)
			}
		}
	}
	if uo := by[u(2)]; len(unreadableItems(uo)) != 2 || !strings.HasPrefix(unreadableItems(uo)[0], "photo/") {
		t.Errorf("truncated photos: unreadable items %v", unreadableItems(uo))
	}
	if uo := by[u(3)]; uo.Unreadable == "" || len(uo.Items) != 0 {
		t.Errorf("garbage principal: unreadable %q with %d items", uo.Unreadable, len(uo.Items))
	}
	if uo := by[u(4)]; fmt.Sprint(uo.NotCovered) != "[event todo note photo]" || uo.Unreadable != "" {
		t.Errorf("no CalDAV, no photos: not covered %v, unreadable %q", uo.NotCovered, uo.Unreadable)
	}
	if uo := by[u(5)]; len(unreadableItems(uo)) != 1 || !strings.HasPrefix(unreadableItems(uo)[0], "contact/") {
		t.Errorf("half a vCard: unreadable items %v", unreadableItems(uo))
	}
	if n := len(by[u(5)].Items); n != len(want[u(5)]) {
		t.Errorf("half a vCard: %d items, want %d", n, len(want[u(5)]))
	}
}

func TestObserveWrongPassword(t *testing.T) {
	s, accts, _ := fixture(t, 2)
	accts[1].Password = "wrong"
	obs := observeWith(t, s, accts, Options{})
	if obs.Users[0].Unreadable != "" {
		t.Errorf("right password: unreadable %q", obs.Users[0].Unreadable)
	}
	if got := obs.Users[1].Unreadable; !strings.Contains(got, "login refused") || !strings.Contains(got, "401") {
		t.Errorf("wrong password: unreadable %q, want a refused login", got)
	}
}
