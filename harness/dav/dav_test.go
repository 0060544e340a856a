package dav

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestMemberName(t *testing.T) {
	for _, tc := range []struct {
		coll, href, name string
		ok               bool
	}{
		{"http://h/dav/u/contacts/default/", "/dav/u/contacts/default/a%20b.vcf", "a b.vcf", true},
		{"http://h/dav/u/contacts/default/", "http://h/dav/u/contacts/default/x.vcf", "x.vcf", true},
		{"http://h/dav/u/contacts/default/", "/dav/u/contacts/default/", "", false},
		{"http://h/dav/u/contacts/default", "/dav/u/contacts/default", "", false},
		{"http://h/dav/u/apps/", "/dav/u/apps/tetris/highscores.json", "tetris/highscores.json", true},
		{"http://h/dav/u/photos/", "/dav/v/photos/IMG_0001.jpg", "", false},
		{"http://h/dav/u/photos/", "/dav/u/photos/../../v/photos/x.jpg", "", false},
	} {
		name, ok := MemberName(tc.coll, tc.href)
		if name != tc.name || ok != tc.ok {
			t.Errorf("MemberName(%q, %q) = %q, %v; want %q, %v", tc.coll, tc.href, name, ok, tc.name, tc.ok)
		}
	}
	if got := Join("http://h/dav/u/apps/", "bubble breaker/high#scores.json"); got != "http://h/dav/u/apps/bubble%20breaker/high%23scores.json" {
		t.Errorf("Join = %s", got)
	}
	if got := Expand(DefaultPhotosURL, "http://h:8080/", "a b"); got != "http://h:8080/dav/a%20b/photos/" {
		t.Errorf("Expand = %s", got)
	}
}

func TestParseMultistatus(t *testing.T) {
	ms, err := parseMultistatus([]byte(`<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
 <response><href>/a/1.vcf</href>
  <propstat><prop><getetag>"1"</getetag><C:address-data><![CDATA[BEGIN:VCARD
END:VCARD]]></C:address-data></prop><status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><displayname/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
 </response>
 <response><href>/a/2.vcf</href><status>HTTP/1.1 404 Not Found</status></response>
 <sync-token>http://example.com/sync/7</sync-token>
</multistatus>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Responses) != 2 || ms.SyncToken != "http://example.com/sync/7" {
		t.Fatalf("%+v", ms)
	}
	r := ms.Responses[0]
	if r.Text(PropGetETag) != `"1"` || r.Text(PropAddressData) != "BEGIN:VCARD\nEND:VCARD" || r.MissingStatus(PropDisplayName) != 404 {
		t.Errorf("first response: %+v", r)
	}
	if ms.Responses[1].Status != 404 {
		t.Errorf("second response status %d", ms.Responses[1].Status)
	}
	for _, bad := range []string{
		`<html><body>Welcome</body></html>`,
		`<multistatus xmlns="DAV:"><response><href>/a</href>`,
		`<multistatus xmlns="DAV:"><response><propstat><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`,
		`<multistatus xmlns="DAV:"><response><href>/a</href><status>teapot</status></response></multistatus>`,
		``,
	} {
		if _, err := parseMultistatus([]byte(bad)); err == nil {
			t.Errorf("parseMultistatus(%q) accepted garbage", bad)
		}
	}
}

// TestCleanPathFastPath checks that the shortcut for plain hrefs gives what
// parsing and cleaning give.
func TestCleanPathFastPath(t *testing.T) {
	slow := func(ref string) string {
		u, err := url.Parse(ref)
		if err != nil {
			return ref
		}
		return strings.TrimSuffix(path.Clean("/"+u.Path), "/")
	}
	for _, ref := range []string{"/", "/a", "/a/", "/dav/u/contacts/default/x.vcf", "/a//b", "/a/./b", "/a/../b", "/a/.hidden",
		"/a%20b/", "/a?x=1", "/a#f", "http://h/a/b/", "a/b", "", "/a b", "/ä", "/a\\b"} {
		if got, want := cleanPath(ref), slow(ref); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", ref, got, want)
		}
	}
}
