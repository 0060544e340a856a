package peers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/peers"
)

// The defects documented in docs/compatibility.md, checked against the running
// servers so that the document stays true: each check asserts the server's
// documented behaviour, and fails when an image upgrade changes it.

// davUser sends requests as one user.
type davUser struct {
	t    *testing.T
	base string
	a    accounts.Account
}

// do sends a request and returns the status and body.
func (c davUser) do(method, path string, body []byte, headers ...string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.a.Username, c.a.Password)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// want checks a status.
func (c davUser) want(code int, method, path string, body []byte, headers ...string) string {
	c.t.Helper()
	got, resp := c.do(method, path, body, headers...)
	if got != code {
		c.t.Fatalf("%s %s: %d, want %d:\n%s", method, path, got, code, tail(resp, 10))
	}
	return resp
}

const (
	vcard4Photo = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1f0e3c4a-0000-4000-8000-000000000001\r\nFN:Ada Photo\r\nN:Photo;Ada;;;\r\n" +
		"PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBD\r\nEND:VCARD\r\n"
	durationEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//firedrill//repro//EN\r\nBEGIN:VEVENT\r\nUID:dur-1@example.invalid\r\n" +
		"DTSTAMP:20091002T090000Z\r\nDTSTART:20091005T100000Z\r\nDURATION:PT60M\r\nSUMMARY:Duration\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	goodCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:good-1\r\nFN:Good One\r\nN:One;Good;;;\r\nEND:VCARD\r\n"
)

var (
	vcardType = []string{"Content-Type", "text/vcard"}
	icalType  = []string{"Content-Type", "text/calendar"}
	depth0    = []string{"Depth", "0"}
)

// binaryBody is a small JPEG-like body that is not UTF-8.
var binaryBody = append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{0x9b, 0x00, 0xfe}, 300)...)

// meeting is an event organized by someone else with one accepted attendee.
func meeting(start, end string, seq int) []byte {
	return []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//firedrill//repro//EN\r\nBEGIN:VEVENT\r\nUID:meet-1@example.invalid\r\n"+
		"DTSTAMP:20091002T090000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Meeting\r\nORGANIZER;CN=\"Sidekick User\":mailto:owner@example.com\r\n"+
		"ATTENDEE;CN=\"Ada Lovelace\";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:ada@example.com\r\nSEQUENCE:%d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", start, end, seq))
}

// radicaleDefects checks R1-R3 (accounts made with WithHomeCollections).
func radicaleDefects(t *testing.T, s *peers.Server, a accounts.Account) {
	c := davUser{t, s.URL, a}
	home := "/" + a.Username + "/"
	c.want(http.StatusCreated, "PUT", home+peers.RadicaleAddressBook+"ada.vcf", []byte(vcard4Photo), vcardType...)
	if got := c.want(http.StatusOK, "GET", home+peers.RadicaleAddressBook+"ada.vcf", nil); !strings.Contains(got, "PHOTO:data:image/jpeg\\;base64\r\n") {
		t.Errorf("R1: Radicale kept the vCard 4 photo's data (docs/compatibility.md says it drops it):\n%s", got)
	}
	c.want(http.StatusCreated, "PUT", home+peers.RadicaleCalendar+"dur.ics", []byte(durationEvent), icalType...)
	if got := c.want(http.StatusOK, "GET", home+peers.RadicaleCalendar+"dur.ics", nil); !strings.Contains(got, "DURATION:PT1H\r\n") {
		t.Errorf("R2: Radicale no longer rewrites DURATION:PT60M as PT1H:\n%s", got)
	}
	c.want(http.StatusForbidden, "MKCOL", home+"photos/", nil)
	c.want(http.StatusBadRequest, "PUT", home+peers.RadicaleAddressBook+"a.jpg", binaryBody, "Content-Type", "image/jpeg")
}

// xandikosDefects checks X1-X4 and that nested collections can be made.
func xandikosDefects(t *testing.T, s *peers.Server, a accounts.Account) {
	ctx := context.Background()
	c := davUser{t, s.URL, a}
	home := "/" + a.Username + "/"
	cal, book := home+peers.XandikosCalendar, home+peers.XandikosAddressBook
	c.want(http.StatusCreated, "PUT", cal+"dur.ics", []byte(durationEvent), icalType...)
	if got := c.want(http.StatusOK, "GET", cal+"dur.ics", nil); !strings.Contains(got, "DURATION:PT1H\r\n") {
		t.Errorf("X1: Xandikos no longer rewrites DURATION:PT60M as PT1H:\n%s", got)
	}
	if got := c.want(http.StatusMultiStatus, "PROPFIND", home+"photos/", nil, depth0...); !strings.Contains(got, "404 Not Found") {
		t.Errorf("X2: PROPFIND of a missing collection no longer carries an inner 404:\n%s", got)
	}
	c.want(http.StatusConflict, "MKCOL", home+"apps/tetris/", nil)
	c.want(http.StatusCreated, "MKCOL", home+"apps/", nil)
	c.want(http.StatusCreated, "MKCOL", home+"apps/tetris/", nil)
	c.want(http.StatusCreated, "PUT", home+"apps/tetris/scores.json", []byte(`{"s":1}`), "Content-Type", "application/json")
	c.want(http.StatusCreated, "PUT", book+"good.vcf", []byte(goodCard), vcardType...)
	repo := peers.XandikosCollectionDir(a.Username, book)
	if _, err := s.Shell(ctx, "cd "+shq(repo)+" && sed -i 's/^FN:Good One/FN:Edited In Tree/' good.vcf"); err != nil {
		t.Fatal(err)
	}
	if got := c.want(http.StatusOK, "GET", book+"good.vcf", nil); !strings.Contains(got, "FN:Good One") {
		t.Errorf("X3: Xandikos serves its working tree, not what is committed:\n%s", got)
	}
	if err := s.XandikosCommit(ctx, repo, "git checkout -q good.vcf && printf '\\xff\\xfe\\x9b garbage' > bad.vcf", "firedrill: a body that is not UTF-8"); err != nil {
		t.Fatal(err)
	}
	multiget := `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>` +
		`<D:href>` + book + `good.vcf</D:href><D:href>` + book + `bad.vcf</D:href></C:addressbook-multiget>`
	if got, body := c.do("REPORT", book, []byte(multiget), "Depth", "1", "Content-Type", "application/xml"); got != http.StatusInternalServerError {
		t.Errorf("X4: a multiget including a stored body that is not UTF-8 answered %d, want 500:\n%s", got, tail(body, 5))
	}
	c.want(http.StatusOK, "GET", book+"bad.vcf", nil)
}

// davicalDefects checks D1-D3.
func davicalDefects(t *testing.T, s *peers.Server, a accounts.Account) {
	c := davUser{t, s.URL, a}
	home := "/caldav.php/" + a.Username + "/"
	c.want(http.StatusCreated, "MKCOL", home+"apps/", nil)
	c.want(http.StatusCreated, "MKCOL", home+"apps/tetris/", nil)
	c.want(http.StatusCreated, "PUT", home+"apps/tetris/scores.json", []byte(`{"scores":[1,2,3]}`), "Content-Type", "application/json", "If-None-Match", "*")
	if got, _ := c.do("GET", home+"apps/tetris/scores.json", nil); got != http.StatusNotFound {
		t.Errorf("D1: an acknowledged WebDAV file now comes back (GET %d): DAViCal no longer rolls it back", got)
	}
	c.want(http.StatusCreated, "MKCOL", home+"photos/", nil)
	c.want(http.StatusInternalServerError, "PUT", home+"photos/a.jpg", binaryBody, "Content-Type", "image/jpeg")
	cal := home + "calendar/meet.ics"
	c.want(http.StatusCreated, "PUT", cal, meeting("20091005T100000Z", "20091005T110000Z", 0), icalType...)
	if got := c.want(http.StatusOK, "GET", cal, nil); !strings.Contains(got, "PARTSTAT=ACCEPTED") {
		t.Fatalf("D3: the first version lost PARTSTAT=ACCEPTED already:\n%s", got)
	}
	c.want(http.StatusNoContent, "PUT", cal, meeting("20091006T140000Z", "20091006T150000Z", 1), icalType...)
	got := strings.ReplaceAll(c.want(http.StatusOK, "GET", cal, nil), "\r\n ", "")
	if !strings.Contains(got, "PARTSTAT=NEEDS-ACTION") || !strings.Contains(got, "SCHEDULE-STATUS=") {
		t.Errorf("D3: moving an organized event no longer resets PARTSTAT:\n%s", got)
	}
}

// hasListValue reports whether an unfolded line of body for property name
// holds a list: a comma that separates values (escaped, when escaped is set:
// a comma that belongs to one value).
func hasListValue(body []byte, name string, escaped bool) bool {
	unfolded := strings.NewReplacer("\r\n ", "", "\r\n\t", "", "\n ", "", "\n\t", "").Replace(string(body))
	for _, line := range strings.Split(unfolded, "\n") {
		line = strings.TrimRight(line, "\r")
		head, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if prop, _, _ := strings.Cut(head, ";"); !strings.EqualFold(prop, name) {
			continue
		}
		for i := 0; i < len(value); i++ {
			switch {
			case value[i] == '\\' && i+1 < len(value):
				if escaped && value[i+1] == ',' {
					return true
				}
				i++
			case value[i] == ',' && !escaped:
				return true
			}
		}
	}
	return false
}
