package dav

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// sameMultistatus compares two decoded multistatus answers; xmlns attributes
// (which encoding/xml keeps and the scanner does not) are left out.
func sameMultistatus(a, b *Multistatus) error {
	if a.SyncToken != b.SyncToken {
		return fmt.Errorf("sync-token %q vs %q", a.SyncToken, b.SyncToken)
	}
	if len(a.Responses) != len(b.Responses) {
		return fmt.Errorf("%d responses vs %d", len(a.Responses), len(b.Responses))
	}
	for i := range a.Responses {
		ra, rb := a.Responses[i], b.Responses[i]
		if ra.Href != rb.Href || ra.Status != rb.Status {
			return fmt.Errorf("response %d: %q %d vs %q %d", i, ra.Href, ra.Status, rb.Href, rb.Status)
		}
		if !reflect.DeepEqual(cleanProps(ra.props), cleanProps(rb.props)) {
			return fmt.Errorf("response %d: props\n%+v\nvs\n%+v", i, ra.props, rb.props)
		}
		if !(len(ra.missing) == 0 && len(rb.missing) == 0) && !reflect.DeepEqual(ra.missing, rb.missing) {
			return fmt.Errorf("response %d: missing %+v vs %+v", i, ra.missing, rb.missing)
		}
	}
	return nil
}

func cleanProps(els []Element) []Element {
	if len(els) == 0 {
		return nil
	}
	out := make([]Element, len(els))
	for i, e := range els {
		var attrs []xml.Attr
		for _, a := range e.Attrs {
			if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
				attrs = append(attrs, a)
			}
		}
		out[i] = Element{XMLName: e.XMLName, Attrs: attrs, Text: e.Text, Children: cleanProps(e.Children)}
	}
	return out
}

// multistatusCorpus is what servers send, and what they send when broken.
var multistatusCorpus = []string{
	`<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
 <response><href>/a/1.vcf</href>
  <propstat><prop><getetag>"1"</getetag><C:address-data><![CDATA[BEGIN:VCARD
END:VCARD]]></C:address-data></prop><status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><displayname/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
 </response>
 <response><href>/a/2.vcf</href><status>HTTP/1.1 404 Not Found</status></response>
 <sync-token>http://example.com/sync/7</sync-token>
</multistatus>`,
	// Radicale-style: prefixes declared on the root, CRLF bodies escaped.
	"<?xml version='1.0' encoding='utf-8'?>\n<D:multistatus xmlns:D=\"DAV:\" xmlns:CR=\"urn:ietf:params:xml:ns:carddav\"><D:response><D:href>/u/c/x.vcf</D:href>" +
		"<D:propstat><D:prop><D:getetag>&quot;9a&quot;</D:getetag><CR:address-data>BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A &amp; B &lt;c&gt; &#233;&#x263A;\r\nEND:VCARD\r\n</CR:address-data></D:prop>" +
		"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>",
	// Namespaces declared on each element, the default one changed inside.
	`<ns0:multistatus xmlns:ns0="DAV:"><ns0:response xmlns:ns0="DAV:"><ns0:href>/x/</ns0:href><ns0:propstat><ns0:prop>` +
		`<ns0:resourcetype><ns0:collection/><C:calendar xmlns:C="urn:ietf:params:xml:ns:caldav"/></ns0:resourcetype>` +
		`<supported-calendar-component-set xmlns="urn:ietf:params:xml:ns:caldav"><comp name="VEVENT"/><comp name='VTODO'></comp></supported-calendar-component-set>` +
		`<x:odd xmlns:x="urn:x" x:attr="1" plain="2">a<!-- c -->b<?pi x?>c</x:odd>` +
		`</ns0:prop><ns0:status>HTTP/1.1 200 OK</ns0:status></ns0:propstat></ns0:response></ns0:multistatus>`,
	// Xandikos: a missing collection answers 207 with an inner 404.
	`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>/user/photos</ns0:href><ns0:status>HTTP/1.1 404 Not Found</ns0:status></ns0:response></ns0:multistatus>`,
	`<!DOCTYPE multistatus [ <!ELEMENT a "x>y"> ]><multistatus xmlns="DAV:"></multistatus>`,
	`<multistatus xmlns="DAV:"><response><href>/a</href><href>/b</href><propstat><prop><getetag>e</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`,
	`<multistatus xmlns="DAV:"><response><href>/a</href><propstat><prop><getetag>e</getetag></prop><prop><displayname>n</displayname></prop><status>HTTP/1.1 200 OK</status></propstat></response><responsedescription>x</responsedescription></multistatus>`,
	"<multistatus xmlns=\"DAV:\"><response><href>/a</href><propstat><prop><getetag>\r\n\"x\"\r</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus> trailing garbage <",
	`<multistatus xmlns="DAV:"><response><href> /a </href><status>HTTP/1.1 507 Insufficient Storage</status></response></multistatus>`,
	`<html><body>Welcome</body></html>`,
	`<multistatus xmlns="DAV:"><response><href>/a</href>`,
	`<multistatus xmlns="DAV:"><response><propstat><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`,
	`<multistatus xmlns="DAV:"><response><href>/a</href><status>teapot</status></response></multistatus>`,
	`<multistatus xmlns="DAV:"><response><href>/a</href></wrong></multistatus>`,
	`<multistatus xmlns="DAV:"><response><href>&bogus;</href></response></multistatus>`,
	"<multistatus xmlns=\"DAV:\"><response><href>\x01</href></response></multistatus>",
	"<multistatus xmlns=\"DAV:\"><response><href>\xff</href></response></multistatus>",
	`<multistatus xmlns="DAV:"><response><href>a]]>b</href></response></multistatus>`,
	`<multistatus xmlns="DAV:"><response><href>&#0;</href></response></multistatus>`,
	`<multistatus xmlns="DAV:"><response a=b><href>/</href></response></multistatus>`,
	`<multistatus xmlns="DAV:"><![CDATA[x`,
	``,
	`   `,
}

// TestScannerMatchesEncodingXML decodes every corpus entry with the scanner and
// with encoding/xml: both accept it with the same result, or both refuse it.
func TestScannerMatchesEncodingXML(t *testing.T) {
	for i, doc := range multistatusCorpus {
		checkAgainstReference(t, fmt.Sprintf("corpus %d", i), []byte(doc))
	}
	checkAgainstReference(t, "bench body", benchMultistatus(t, 20))
}

func checkAgainstReference(t *testing.T, what string, doc []byte) {
	t.Helper()
	want, werr := refMultistatus(bytes.NewReader(doc))
	got, gerr := parseMultistatus(doc)
	switch {
	case werr != nil && gerr == nil:
		t.Errorf("%s: the scanner accepts what encoding/xml refuses (%v):\n%q", what, werr, doc)
	case werr == nil && gerr != nil && hasDirective(doc):
		// The scanner refuses directives other than a DOCTYPE: no DAV server
		// sends them, and encoding/xml's reading of them is its own.
	case werr == nil && gerr != nil:
		t.Errorf("%s: the scanner refuses (%v) what encoding/xml accepts:\n%q", what, gerr, doc)
	case werr == nil:
		if err := sameMultistatus(want, got); err != nil {
			t.Errorf("%s: %v\n%q", what, err, doc)
		}
	}
}

// hasDirective reports whether doc has a <! that starts neither a comment nor
// CDATA.
func hasDirective(doc []byte) bool {
	for i := 0; i+2 <= len(doc); i++ {
		if doc[i] == '<' && doc[i+1] == '!' && !bytes.HasPrefix(doc[i:], []byte("<!--")) && !bytes.HasPrefix(doc[i:], []byte("<![CDATA[")) {
			return true
		}
	}
	return false
}

// FuzzParseMultistatus checks the scanner against encoding/xml on any input.
func FuzzParseMultistatus(f *testing.F) {
	for _, doc := range multistatusCorpus {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkAgainstReference(t, "fuzz", doc)
	})
}

func TestParseStatus(t *testing.T) {
	for in, want := range map[string]int{"HTTP/1.1 200 OK": 200, " HTTP/1.1  404 Not Found ": 404, "HTTP/1.1 507": 507,
		"HTTP/1.1\t201\tCreated": 201} {
		if got, err := parseStatus([]byte(in)); got != want || err != nil {
			t.Errorf("parseStatus(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "200", "HTTP/1.1 abc", "HTTP/1.1 99 x", "HTTP/1.1 600", "HTTP/1.1 2000000000000000000000"} {
		if _, err := parseStatus([]byte(bad)); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("parseStatus(%q) accepted", bad)
		}
	}
}

func TestParseResponseStatusBeforeHref(t *testing.T) {
	ms, err := parseMultistatus([]byte(`<multistatus xmlns="DAV:"><response><status>HTTP/1.1 404 Not Found</status><href>/a/b</href></response></multistatus>`))
	if err != nil || len(ms.Responses) != 1 || ms.Responses[0].Href != "/a/b" || ms.Responses[0].Status != 404 {
		t.Fatalf("%+v %v", ms, err)
	}
}
