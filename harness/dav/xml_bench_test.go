package dav

import (
	"bytes"
	"fmt"
	"html"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// benchMultistatus is an addressbook-multiget answer of n generated contacts
// (profile small), as a server sends it: escaped bodies with CRLF line ends.
func benchMultistatus(tb testing.TB, n int) []byte {
	tb.Helper()
	p, err := profile.Load("small")
	if err != nil {
		tb.Fatal(err)
	}
	g := gen.New(7, p)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<d:multistatus xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">`)
	for i := 0; i < n; i++ {
		it := g.Item("user00001", model.KindContact, i, 0)
		fmt.Fprintf(&b, `<d:response><d:href>/dav/user00001/contacts/default/%s</d:href><d:propstat><d:prop>`+
			`<d:getetag>"%d-abcdef"</d:getetag><card:address-data>%s</card:address-data></d:prop>`+
			`<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, it.Name, i, html.EscapeString(string(it.Body)))
	}
	b.WriteString(`<d:sync-token>http://example.com/sync/1</d:sync-token></d:multistatus>`)
	return []byte(b.String())
}

// BenchmarkParseMultistatusStd is the same with encoding/xml, as the client
// decoded before its own scanner: the baseline.
func BenchmarkParseMultistatusStd(b *testing.B) {
	body := benchMultistatus(b, 100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ms, err := refMultistatus(bytes.NewReader(body))
		if err != nil || len(ms.Responses) != 100 {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMultistatus decodes a multiget answer of 100 contacts; the
// figure per item is ns/op over 100.
func BenchmarkParseMultistatus(b *testing.B) {
	body := benchMultistatus(b, 100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ms, err := parseMultistatus(body)
		if err != nil || len(ms.Responses) != 100 {
			b.Fatal(err)
		}
	}
}
