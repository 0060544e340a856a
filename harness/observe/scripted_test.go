package observe

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// scripted is a small DAV server for unit tests, laid out like the reference
// server, that can be told to behave as one third-party server or another, or
// to answer garbage in one place. Faults apply to one user or to all ("*").
type scripted struct {
	mu    sync.Mutex
	files map[string][]byte // path -> body, e.g. /dav/alice/contacts/default/x.vcf
	pass  map[string]string
	fault map[string]string // fault -> user it applies to ("*" for all)
	// bad is a file whose presence in a multiget makes it answer 500 (Xandikos
	// with one unparseable stored item).
	bad string
	// busy is how many requests of a user still get 503 with Retry-After: 1.
	busy map[string]int
	// dropped marks the requests already dropped once (fault "eof-discovery").
	dropped map[string]bool
	// requests counts requests by method and report, e.g. "REPORT multiget".
	requests map[string]int
	// lastBusy is when a user last got 503, for checking Retry-After.
	lastBusy  map[string]time.Time
	tooEarly  int
	stalledCh chan struct{} // closed when the test ends: stalled requests return
}

func newScripted() *scripted {
	return &scripted{files: map[string][]byte{}, pass: map[string]string{}, fault: map[string]string{},
		busy: map[string]int{}, dropped: map[string]bool{}, requests: map[string]int{}, lastBusy: map[string]time.Time{},
		stalledCh: make(chan struct{})}
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

var versionRE = regexp.MustCompile(`address-data[^>]*version="([^"]*)"`)

// served is the body a server sends for a stored contact asked for in version
// want. With fault "cyrus" the server converts, as Cyrus does: a contact
// stored in another version than asked (3.0 when nothing is asked, RFC 6352)
// comes back converted, and the conversion loses the PHOTO.
func (s *scripted) served(user, p string, body []byte, want string) []byte {
	if !s.faulty("cyrus", user) || !strings.HasSuffix(p, ".vcf") {
		return body
	}
	if want == "" {
		want = "3.0"
	}
	stored := "3.0"
	if strings.Contains(string(body), "VERSION:4.0") {
		stored = "4.0"
	}
	if stored == want {
		return body
	}
	var out []string
	inPhoto := false
	for _, line := range strings.SplitAfter(string(body), "\n") {
		switch {
		case strings.HasPrefix(line, " ") && inPhoto:
		case strings.HasPrefix(line, "VERSION:"):
			out, inPhoto = append(out, "VERSION:"+want+"\r\n"), false
		case strings.HasPrefix(line, "PHOTO"):
			inPhoto = true
		default:
			out, inPhoto = append(out, line), false
		}
	}
	return []byte(strings.Join(out, ""))
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqBody, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	user, pass, _ := r.BasicAuth()
	if r.Method == "PROPFIND" && s.stalls(user) {
		// Answers OPTIONS, never PROPFIND: wait for the client to give up.
		select {
		case <-r.Context().Done():
		case <-s.stalledCh:
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	what := r.Method
	for _, rep := range []string{"sync-collection", "multiget"} {
		if strings.Contains(string(reqBody), rep) {
			what += " " + rep
		}
	}
	s.requests[what]++
	if t, ok := s.lastBusy[user]; ok {
		if time.Since(t) < time.Second {
			s.tooEarly++
		}
		delete(s.lastBusy, user)
	}
	if n := s.busy[user]; n > 0 {
		s.busy[user] = n - 1
		s.lastBusy[user] = time.Now()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if strings.HasPrefix(p, "/.well-known/") {
		http.Redirect(w, r, "/dav/", http.StatusMovedPermanently)
		return
	}
	if !(user != "" && s.pass[user] == pass) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	home := "/dav/" + user + "/"
	if s.faulty("eof-discovery", user) && r.Method == "PROPFIND" && !s.dropped[user+p] {
		s.dropped[user+p] = true
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close() // EOF, as from a server killed mid-request
		}
		return
	}
	books := []string{home + "contacts/default/"}
	if s.faulty("two-books", user) {
		books = append(books, home+"contacts/other/")
	}
	if s.faulty("fresh", user) {
		books = nil // a fresh Radicale account: no address book, no calendar
	}
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
		b := propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`)
		for _, book := range books {
			b += propResp(book, `<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>`)
		}
		write207(w, b)
	case r.Method == "PROPFIND" && p == home+"calendars/" && s.faulty("fresh", user):
		write207(w, propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`))
	case r.Method == "PROPFIND" && p == home+"calendars/":
		write207(w, propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`)+
			propResp(p+"default/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>`+
				`<cal:supported-calendar-component-set><cal:comp name="VEVENT"/><cal:comp name="VTODO"/><cal:comp name="VJOURNAL"/></cal:supported-calendar-component-set>`))
	case r.Method == "REPORT" && strings.Contains(string(reqBody), "sync-collection") &&
		!(contains(books, p) || p == home+"calendars/default/"):
		// Like most servers, sync-collection on address books and calendars only.
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0"?><d:error xmlns:d="DAV:"><d:supported-report/></d:error>`)
	case r.Method == "REPORT" && strings.Contains(string(reqBody), "sync-collection"):
		s.syncCollection(w, user, p, string(reqBody))
	case r.Method == "REPORT" && strings.Contains(string(reqBody), "multiget"):
		s.multiget(w, user, string(reqBody))
	case r.Method == "PROPFIND" && (p == home+"photos/" || strings.HasPrefix(p, home+"apps/")):
		if p == home+"photos/" && s.faulty("no-photos", user) {
			http.NotFound(w, r)
			return
		}
		if p == home+"photos/" && s.faulty("photos-207-404", user) {
			// Xandikos: 207, one inner 404, a mangled href.
			write207(w, `<d:response><d:href>`+home+`photosphotos</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`)
			return
		}
		var b strings.Builder
		b.WriteString(propResp(p, `<d:resourcetype><d:collection/></d:resourcetype>`))
		if r.Header.Get("Depth") == "1" {
			seen := map[string]bool{}
			for _, f := range sortedKeys(s.files) {
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
		if (s.faulty("photo-truncated", user) && strings.HasSuffix(p, ".jpg")) ||
			(s.faulty("get-truncated", user) && !strings.HasSuffix(p, ".jpg") && !strings.HasSuffix(p, ".json")) {
			truncated(w, http.StatusOK, string(body[:len(body)/2]))
			return
		}
		want := ""
		if m := regexp.MustCompile(`version=([0-9.]+)`).FindStringSubmatch(r.Header.Get("Accept")); m != nil {
			want = m[1]
		}
		w.Header().Set("ETag", `"e1"`)
		w.Write(s.served(user, p, body, want))
	default:
		http.Error(w, "not here", http.StatusNotImplemented)
	}
}

func (s *scripted) stalls(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faulty("stall-propfind", user)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dataElement returns the data a REPORT asks for ("card:address-data" or
// "cal:calendar-data") and the vCard version it asks, if any.
func dataElement(reqBody string) (elem, version string, asked bool) {
	switch {
	case strings.Contains(reqBody, "address-data"):
		elem, asked = "card:address-data", true
	case strings.Contains(reqBody, "calendar-data"):
		elem, asked = "cal:calendar-data", true
	}
	if m := versionRE.FindStringSubmatch(reqBody); m != nil {
		version = m[1]
	}
	return elem, version, asked
}

func (s *scripted) syncCollection(w http.ResponseWriter, user, p, reqBody string) {
	if s.faulty("listing-garbage", user) {
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response><d:href>`)
		return
	}
	elem, version, asked := dataElement(reqBody)
	inline := asked && s.faulty("inline-data", user)
	member := func(f string) string {
		props := `<d:getetag>"e1"</d:getetag>`
		if inline {
			props += `<` + elem + `>` + html.EscapeString(string(s.served(user, f, s.files[f], version))) + `</` + elem + `>`
		}
		return propResp(f, props)
	}
	var b strings.Builder
	members := s.members(p)
	if s.faulty("paged", user) {
		// RFC 6578 truncation: half the members, a 507 on the collection, and a
		// token to continue from.
		half := len(members) / 2
		if strings.Contains(reqBody, "<d:sync-token>page2</d:sync-token>") {
			members = members[half:]
		} else {
			for _, f := range members[:half] {
				b.WriteString(member(f))
			}
			b.WriteString(`<d:response><d:href>` + p + `</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>`)
			write207(w, b.String()+`<d:sync-token>page2</d:sync-token>`)
			return
		}
	}
	for _, f := range members {
		b.WriteString(member(f))
	}
	write207(w, b.String()+`<d:sync-token>tok-1</d:sync-token>`)
}

func (s *scripted) multiget(w http.ResponseWriter, user, reqBody string) {
	elem, version, _ := dataElement(reqBody)
	var b strings.Builder
	for _, part := range strings.Split(reqBody, "<d:href>")[1:] {
		href := html.UnescapeString(part[:strings.Index(part, "</d:href>")])
		body, ok := s.files[href]
		if href == s.bad && s.bad != "" {
			http.Error(w, "internal error: cannot parse "+href, http.StatusInternalServerError)
			return
		}
		if !ok {
			b.WriteString(`<d:response><d:href>` + href + `</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`)
			continue
		}
		b.WriteString(propResp(href, `<d:getetag>"e1"</d:getetag><`+elem+`>`+html.EscapeString(string(s.served(user, href, body, version)))+`</`+elem+`>`))
	}
	if s.faulty("multiget-truncated", user) {
		truncated(w, http.StatusMultiStatus, fmt.Sprintf(ms, b.String()))
		return
	}
	write207(w, b.String())
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
