package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// refusingServer discovers like any CardDAV/CalDAV/WebDAV server and answers
// every PUT with status.
func refusingServer(t *testing.T, status int) *httptest.Server {
	t.Helper()
	ms := func(w http.ResponseWriter, inner string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav">`+inner+`</d:multistatus>`)
	}
	prop := func(href, props string) string {
		return `<d:response><d:href>` + href + `</d:href><d:propstat><d:prop>` + props + `</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case r.Method == http.MethodOptions:
		case r.Method == "PROPFIND" && p == "/":
			ms(w, prop(p, `<d:current-user-principal><d:href>/p/</d:href></d:current-user-principal>`))
		case r.Method == "PROPFIND" && p == "/p/":
			ms(w, prop(p, `<card:addressbook-home-set><d:href>/h/</d:href></card:addressbook-home-set><cal:calendar-home-set><d:href>/h/</d:href></cal:calendar-home-set>`))
		case r.Method == "PROPFIND" && p == "/h/":
			ms(w, prop(p, `<d:resourcetype><d:collection/></d:resourcetype>`)+
				prop("/h/book/", `<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>`)+
				prop("/h/cal/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype>`))
		case r.Method == "PROPFIND" || r.Method == "REPORT":
			ms(w, prop(p, `<d:resourcetype><d:collection/></d:resourcetype>`)+`<d:sync-token>t1</d:sync-token>`)
		case r.Method == "MKCOL":
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodPut:
			http.Error(w, "no", status)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestLoadWroteNothing: a server that refuses every write makes load fail,
// saying that nothing was written and which kinds were refused.
func TestLoadWroteNothing(t *testing.T) {
	srv := refusingServer(t, http.StatusForbidden)
	users := writeFile(t, "users.csv", "alice,secret\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	st, out, errOut := runCLI(t, nil, "load", "--server", srv.URL, "--users", users, "--ledger", led, "--profile", "tiny", "--seed", "3")
	if st != exitFail {
		t.Fatalf("exit %d, want %d\n%s\n%s", st, exitFail, out, errOut)
	}
	for _, want := range []string{"nothing was written: none of", "contact refused throughout", "403 Forbidden", "check the server's log"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "load: load:") {
		t.Errorf("stutter in %q", errOut)
	}
	if !strings.Contains(out, "kind") || !strings.Contains(out, "refused") {
		t.Errorf("summary lacks the table of kinds:\n%s", out)
	}
}

// TestLoad5xxIsNotSuccess: every PUT answered 500 is retried and ends
// ambiguous; load exits non-zero.
func TestLoad5xxIsNotSuccess(t *testing.T) {
	srv := refusingServer(t, http.StatusInternalServerError)
	users := writeFile(t, "users.csv", "alice,secret\n")
	led := filepath.Join(t.TempDir(), "run.ledger")
	st, _, errOut := runCLI(t, nil, "load", "--server", srv.URL, "--users", users, "--ledger", led, "--profile", "tiny", "--seed", "3")
	if st != exitFail || !strings.Contains(errOut, "ambiguous after retries") || !strings.Contains(errOut, "500") {
		t.Errorf("exit %d, stderr:\n%s", st, errOut)
	}
}
