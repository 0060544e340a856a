package workload

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memDAV is an in-memory CardDAV, CalDAV and WebDAV server laid out like the
// reference server, for unit tests of phones: discovery, sync-collection with
// tokens (removals come back as 404), multiget, PROPFIND listings, MKCOL, and
// conditional PUT and DELETE with strong ETags.
type memDAV struct {
	mu       sync.Mutex
	pass     map[string]string
	files    map[string]*memFile // by path, e.g. /dav/alice/contacts/default/x.vcf
	gone     map[string]int64    // path -> change number of its delete
	colls    map[string]bool     // plain WebDAV collections made with MKCOL, e.g. /dav/alice/photos/
	seq      int64
	requests atomic.Int64

	// Behaviours of third-party servers, off unless set.
	//
	// fresh: an account starts with no address book and no calendar (Radicale):
	// a client makes them with extended MKCOL and MKCALENDAR, into books.
	fresh bool
	books map[string]string // path -> "addressbook" or "calendar", when fresh
	// comps are the components a calendar may be made for ("" allows any).
	comps string
	// missing207: a PROPFIND on a missing collection answers 207 with an inner
	// 404 under a mangled href (Xandikos).
	missing207 bool
	// refuseMkcol answers MKCOL of the paths it names with a status (Radicale
	// has no plain WebDAV collections: 405 or 403).
	refuseMkcol map[string]int
	// dropOnce drops the connection of the first request to each path it names
	// (syncd killed mid-request), then answers normally.
	dropOnce map[string]bool
	// putStatus, when set, answers a PUT with a status instead of storing it,
	// and a Retry-After when that is not "".
	putStatus func(p string) (code int, retryAfter string)
	putTimes  map[string][]time.Time // PUT arrival times by path
}

type memFile struct {
	body []byte
	etag string
	seq  int64 // change number of its last write
}

func newMemDAV(pass map[string]string) *memDAV {
	return &memDAV{pass: pass, files: map[string]*memFile{}, gone: map[string]int64{}, colls: map[string]bool{},
		books: map[string]string{}, refuseMkcol: map[string]int{}, dropOnce: map[string]bool{}, putTimes: map[string][]time.Time{}}
}

// clone copies the server's state, as a restore from a backup does.
func (s *memDAV) clone() *memDAV {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := newMemDAV(s.pass)
	for p, f := range s.files {
		cp := *f
		c.files[p] = &cp
	}
	for p, n := range s.gone {
		c.gone[p] = n
	}
	for p := range s.colls {
		c.colls[p] = true
	}
	for p, k := range s.books {
		c.books[p] = k
	}
	c.fresh, c.comps = s.fresh, s.comps
	c.seq = s.seq
	return c
}

const memMS = `<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav">%s</d:multistatus>`

func memProp(href, props string) string {
	return fmt.Sprintf(`<d:response><d:href>%s</d:href><d:propstat><d:prop>%s</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`,
		html.EscapeString(href), props)
}

func memStatus(href string, code int) string {
	return fmt.Sprintf(`<d:response><d:href>%s</d:href><d:status>HTTP/1.1 %d %s</d:status></d:response>`,
		html.EscapeString(href), code, http.StatusText(code))
}

func memEscape(p string) string { return (&url.URL{Path: p}).EscapedPath() }

func write207(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	_, _ = io.WriteString(w, fmt.Sprintf(memMS, body))
}

var (
	syncTokenRE = regexp.MustCompile(`<d:sync-token>(.*?)</d:sync-token>`)
	hrefRE      = regexp.MustCompile(`<d:href>(.*?)</d:href>`)
)

// bookOf reports whether p is an address book or calendar of user.
func (s *memDAV) bookOf(p, user string) bool {
	if s.fresh {
		_, ok := s.books[p]
		return ok && strings.HasPrefix(p, "/dav/"+user+"/")
	}
	return p == "/dav/"+user+"/contacts/default/" || p == "/dav/"+user+"/calendars/default/"
}

// homeListing lists a home set: its address books or calendars.
func (s *memDAV) homeListing(p, user, kind string) string {
	b := memProp(p, `<d:resourcetype><d:collection/></d:resourcetype>`)
	if !s.fresh {
		if kind == "addressbook" {
			return b + memProp(p+"default/", `<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>`)
		}
		return b + memProp(p+"default/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>`+
			`<cal:supported-calendar-component-set><cal:comp name="VEVENT"/><cal:comp name="VTODO"/><cal:comp name="VJOURNAL"/></cal:supported-calendar-component-set>`)
	}
	var paths []string
	for q, k := range s.books {
		if k == kind && path.Dir(strings.TrimSuffix(q, "/"))+"/" == p {
			paths = append(paths, q)
		}
	}
	sort.Strings(paths)
	for _, q := range paths {
		if kind == "addressbook" {
			b += memProp(q, `<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>`)
		} else {
			b += memProp(q, `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>`)
		}
	}
	return b
}

// members returns the files directly in the collection at p, sorted.
func (s *memDAV) members(p string) []string {
	var out []string
	for f := range s.files {
		if path.Dir(f)+"/" == p {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

func (s *memDAV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := r.URL.Path
	if s.dropOnce[p] {
		delete(s.dropOnce, p)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close() // the client reads EOF
		}
		return
	}
	if strings.HasPrefix(p, "/.well-known/") {
		http.Redirect(w, r, "/dav/", http.StatusMovedPermanently)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || s.pass[user] != pass {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	home := "/dav/" + user + "/"
	if p != "/dav/" && p != "/dav/principals/"+user+"/" && !strings.HasPrefix(p, home) {
		http.Error(w, "not yours", http.StatusForbidden)
		return
	}
	switch {
	case r.Method == "PROPFIND" && p == "/dav/":
		write207(w, memProp(p, `<d:current-user-principal><d:href>/dav/principals/`+user+`/</d:href></d:current-user-principal>`))
	case r.Method == "PROPFIND" && p == "/dav/principals/"+user+"/":
		write207(w, memProp(p, `<card:addressbook-home-set><d:href>`+home+`contacts/</d:href></card:addressbook-home-set>`+
			`<cal:calendar-home-set><d:href>`+home+`calendars/</d:href></cal:calendar-home-set>`))
	case r.Method == "PROPFIND" && p == home+"contacts/":
		write207(w, s.homeListing(p, user, "addressbook"))
	case r.Method == "PROPFIND" && p == home+"calendars/":
		write207(w, s.homeListing(p, user, "calendar"))
	case (r.Method == "MKCOL" || r.Method == "MKCALENDAR") && s.fresh && (path.Dir(strings.TrimSuffix(p, "/"))+"/" == home+"contacts/" ||
		path.Dir(strings.TrimSuffix(p, "/"))+"/" == home+"calendars/"):
		s.makeBook(w, r.Method, p, string(body))
	case r.Method == "REPORT" && strings.Contains(string(body), "sync-collection") && s.bookOf(p, user):
		s.syncCollection(w, p, string(body))
	case r.Method == "REPORT" && strings.Contains(string(body), "multiget") && s.bookOf(p, user):
		data := "card:address-data"
		if strings.Contains(string(body), "calendar-multiget") {
			data = "cal:calendar-data"
		}
		var b strings.Builder
		for _, m := range hrefRE.FindAllStringSubmatch(string(body), -1) {
			href := html.UnescapeString(m[1])
			u, err := url.Parse(href)
			f, ok := s.files[u.Path]
			if err != nil || !ok {
				b.WriteString(memStatus(href, http.StatusNotFound))
				continue
			}
			b.WriteString(memProp(href, `<d:getetag>`+html.EscapeString(f.etag)+`</d:getetag><`+data+`>`+
				html.EscapeString(string(f.body))+`</`+data+`>`))
		}
		write207(w, b.String())
	case r.Method == "PROPFIND" && s.bookOf(p, user):
		var b strings.Builder
		typ := `<cal:calendar/>`
		if strings.HasPrefix(p, home+"contacts/") {
			typ = `<card:addressbook/>`
		}
		b.WriteString(memProp(p, `<d:resourcetype><d:collection/>`+typ+`</d:resourcetype>`))
		for _, f := range s.members(p) {
			b.WriteString(memProp(memEscape(f), `<d:resourcetype/><d:getetag>`+html.EscapeString(s.files[f].etag)+`</d:getetag>`))
		}
		write207(w, b.String())
	case r.Method == "PROPFIND":
		s.propfindPlain(w, r, p)
	case r.Method == "MKCOL":
		if code := s.refuseMkcol[p]; code != 0 {
			http.Error(w, "no plain collections here", code)
			return
		}
		if parent := path.Dir(strings.TrimSuffix(p, "/")) + "/"; parent != home && !s.colls[parent] {
			http.Error(w, "parent missing", http.StatusConflict)
			return
		}
		if s.colls[p] || s.bookOf(p, user) {
			http.Error(w, "exists", http.StatusMethodNotAllowed)
			return
		}
		s.colls[p] = true
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodGet:
		f, ok := s.files[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", f.etag)
		_, _ = w.Write(f.body)
	case r.Method == http.MethodPut || r.Method == http.MethodDelete:
		if r.Method == http.MethodPut {
			s.putTimes[p] = append(s.putTimes[p], time.Now())
			if parent := path.Dir(p) + "/"; !s.colls[parent] && !s.bookOf(parent, user) {
				http.Error(w, "no collection "+parent, http.StatusConflict) // as RFC 4918 9.7.1 says
				return
			}
			if s.putStatus != nil {
				if code, ra := s.putStatus(p); code != 0 {
					if ra != "" {
						w.Header().Set("Retry-After", ra)
					}
					http.Error(w, "no", code)
					return
				}
			}
		}
		s.write(w, r, p, body)
	default:
		http.Error(w, "not here", http.StatusNotImplemented)
	}
}

// syncCollection answers an RFC 6578 sync-collection REPORT; tokens are "s<change number>".
func (s *memDAV) syncCollection(w http.ResponseWriter, p, body string) {
	m := syncTokenRE.FindStringSubmatch(body)
	var since int64 = -1
	if m != nil && m[1] != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(m[1], "s"), 10, 64)
		if err != nil || !strings.HasPrefix(m[1], "s") || n > s.seq {
			http.Error(w, "valid-sync-token", http.StatusForbidden)
			return
		}
		since = n
	}
	var b strings.Builder
	for _, f := range s.members(p) {
		if s.files[f].seq > since {
			b.WriteString(memProp(memEscape(f), `<d:getetag>`+html.EscapeString(s.files[f].etag)+`</d:getetag>`))
		}
	}
	if since >= 0 {
		for f, n := range s.gone {
			if path.Dir(f)+"/" == p && n > since {
				b.WriteString(memStatus(memEscape(f), http.StatusNotFound))
			}
		}
	}
	write207(w, b.String()+fmt.Sprintf(`<d:sync-token>s%d</d:sync-token>`, s.seq))
}

// makeBook answers an extended MKCOL or a MKCALENDAR in a fresh account.
func (s *memDAV) makeBook(w http.ResponseWriter, method, p, body string) {
	if _, ok := s.books[p]; ok {
		http.Error(w, "exists", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case method == "MKCOL" && strings.Contains(body, "<card:addressbook/>") && strings.HasSuffix(path.Dir(strings.TrimSuffix(p, "/")), "/contacts"):
		s.books[p] = "addressbook"
	case method == "MKCALENDAR" && strings.HasSuffix(path.Dir(strings.TrimSuffix(p, "/")), "/calendars"):
		if s.comps != "" {
			for _, m := range regexp.MustCompile(`comp name="([A-Z]+)"`).FindAllStringSubmatch(body, -1) {
				if !strings.Contains(s.comps, m[1]) {
					w.WriteHeader(http.StatusForbidden)
					_, _ = io.WriteString(w, `<d:error xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><cal:supported-calendar-component/></d:error>`)
					return
				}
			}
		}
		s.books[p] = "calendar"
	default:
		http.Error(w, "not a collection this server makes", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// propfindPlain lists a plain WebDAV collection made with MKCOL.
func (s *memDAV) propfindPlain(w http.ResponseWriter, r *http.Request, p string) {
	if !s.colls[p] && s.missing207 {
		write207(w, memStatus(strings.TrimSuffix(p, "/")+strings.TrimPrefix(path.Base(strings.TrimSuffix(p, "/")), "/"), http.StatusNotFound))
		return
	}
	if !s.colls[p] {
		http.NotFound(w, r)
		return
	}
	var b strings.Builder
	b.WriteString(memProp(p, `<d:resourcetype><d:collection/></d:resourcetype>`))
	if r.Header.Get("Depth") == "1" {
		var subs []string
		for c := range s.colls {
			if c != p && strings.HasPrefix(c, p) && !strings.Contains(strings.TrimSuffix(c[len(p):], "/"), "/") {
				subs = append(subs, c)
			}
		}
		sort.Strings(subs)
		for _, c := range subs {
			b.WriteString(memProp(memEscape(c), `<d:resourcetype><d:collection/></d:resourcetype>`))
		}
		for _, f := range s.members(p) {
			b.WriteString(memProp(memEscape(f), `<d:resourcetype/><d:getetag>`+html.EscapeString(s.files[f].etag)+`</d:getetag>`))
		}
	}
	write207(w, b.String())
}

// write makes a conditional PUT or DELETE.
func (s *memDAV) write(w http.ResponseWriter, r *http.Request, p string, body []byte) {
	f, exists := s.files[p]
	if (r.Header.Get("If-None-Match") == "*" && exists) ||
		(r.Header.Get("If-Match") != "" && (!exists || r.Header.Get("If-Match") != f.etag)) {
		w.WriteHeader(http.StatusPreconditionFailed)
		return
	}
	s.seq++
	if r.Method == http.MethodDelete {
		if !exists {
			http.NotFound(w, r)
			return
		}
		delete(s.files, p)
		s.gone[p] = s.seq
		w.WriteHeader(http.StatusNoContent)
		return
	}
	delete(s.gone, p)
	nf := &memFile{body: body, etag: fmt.Sprintf(`"v%d"`, s.seq), seq: s.seq}
	s.files[p] = nf
	w.Header().Set("ETag", nf.etag)
	if exists {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}

// lose deletes a file without a trace, as storage that lost it does.
func (s *memDAV) lose(p string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[p]
	delete(s.files, p)
	return ok
}
