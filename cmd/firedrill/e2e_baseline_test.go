package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/dav"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/jackc/pgx/v5"
)

var baselineRuns atomic.Int32

// plainDAV is a DAV client written for this test alone, on net/http: what
// any other program would write to a server, not firedrill's workload.
type plainDAV struct {
	t      *testing.T
	server string
	hc     *http.Client
}

// do sends one request as user and fails the test unless the status is one
// of want.
func (c plainDAV) do(a accounts.Account, method, path, contentType string, body []byte, want ...int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.server, "/")+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(a.Username, a.Password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	for _, w := range want {
		if resp.StatusCode == w {
			return
		}
	}
	c.t.Fatalf("%s %s as %s: %s %s, want %v", method, path, a.Username, resp.Status, msg, want)
}

func vcard(uid, fn string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:" + uid + "\r\nFN:" + fn + "\r\nEMAIL:" + uid + "@example.org\r\nEND:VCARD\r\n")
}

func vcalendar(comp, uid, summary string) []byte {
	extra := "DTSTART:20261224T180000Z\r\nDTEND:20261224T200000Z\r\n"
	if comp != "VEVENT" {
		extra = ""
	}
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//plain client//test//EN\r\nBEGIN:" + comp + "\r\nUID:" + uid +
		"\r\nDTSTAMP:20261201T120000Z\r\n" + extra + "SUMMARY:" + summary + "\r\nEND:" + comp + "\r\nEND:VCALENDAR\r\n")
}

// TestSnapshotVerifyBaseline is the check for baselines: a server
// loaded by a plain DAV client (not firedrill's workload) is snapshot, then
// verified against the snapshot (intact, exit 0); damage planted after the
// snapshot (an item deleted, one changed, one re-serialised with the same
// meaning, another user's photo copied in, a new item) is named user by
// user and item by item with the right class (exit 1), and what is not
// damage is counted, not failed.
func TestSnapshotVerifyBaseline(t *testing.T) {
	st, server := startReference(t)
	token := st.Server.AdminToken
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// Fresh accounts for every run: the reference stack is shared across
	// -count repetitions.
	accts := namedAccounts(fmt.Sprintf("base%dn", baselineRuns.Add(1)), 3, 31)
	users := filepath.Join(dir, "users.csv")
	if err := accounts.WriteFile(users, accts); err != nil {
		t.Fatal(err)
	}
	if err := accounts.Provision(ctx, dav.NewHTTPClient(2), server, token, accts, 2); err != nil {
		t.Fatal(err)
	}
	c := plainDAV{t: t, server: server, hc: &http.Client{Timeout: 30 * time.Second}}
	photo := func(a accounts.Account) []byte {
		return []byte("\xff\xd8\xff\xe0 JFIF photo of " + a.Username + "\xff\xd9")
	}
	for _, a := range accts {
		u := a.Username
		for i := range 2 {
			c.do(a, http.MethodPut, fmt.Sprintf("/dav/%s/contacts/default/%s-%d.vcf", u, u, i), "text/vcard",
				vcard(fmt.Sprintf("%s-%d", u, i), fmt.Sprintf("Friend %d of %s", i, u)), http.StatusCreated, http.StatusNoContent)
		}
		for comp, name := range map[string]string{"VEVENT": "party", "VTODO": "gifts", "VJOURNAL": "diary"} {
			c.do(a, http.MethodPut, fmt.Sprintf("/dav/%s/calendars/default/%s.ics", u, name), "text/calendar",
				vcalendar(comp, u+"-"+name, name+" of "+u), http.StatusCreated, http.StatusNoContent)
		}
		c.do(a, http.MethodPut, "/dav/"+u+"/photos/IMG_0001.jpg", "image/jpeg", photo(a), http.StatusCreated, http.StatusNoContent)
		c.do(a, "MKCOL", "/dav/"+u+"/apps/tetris/", "", nil, http.StatusCreated)
		c.do(a, http.MethodPut, "/dav/"+u+"/apps/tetris/highscores.json", "application/json",
			[]byte(`{"high":[{"name":"`+u+`","score":9001}]}`), http.StatusCreated, http.StatusNoContent)
	}
	snap := filepath.Join(dir, "before.snap")
	code, out, errOut := runCLI(t, nil, "snapshot", "--server", server, "--users", users, "--out", snap)
	t.Logf("snapshot:\n%s", out)
	if code != exitOK || !strings.Contains(out, "snapshot: 3 users, 21 items (6 contacts, 3 events, 3 todos, 3 notes, 3 photos, 3 appdatas)") {
		t.Fatalf("snapshot: exit %d\n%s\n%s", code, out, tail(errOut, 10))
	}
	if !strings.Contains(errOut, "observe") {
		t.Errorf("snapshot shows no progress:\n%s", tail(errOut, 5))
	}

	code, out, errOut = runCLI(t, nil, "verify", "--server", server, "--users", users, "--baseline", snap)
	t.Logf("verify before damage:\n%s", out)
	if code != exitOK || !strings.Contains(out, "verify: pass: all 3 users intact against the snapshot: 21 items") ||
		!strings.Contains(out, "intact              3") || !strings.Contains(out, "canary: 6 of 6 planted damages caught; resurrected not planted") ||
		!strings.Contains(out, "a snapshot records no deletes") {
		t.Fatalf("verify before damage: exit %d\n%s\n%s", code, out, tail(errOut, 10))
	}

	// Damage after the snapshot, through the protocol like any client.
	a0, a1, a2 := accts[0], accts[1], accts[2]
	c.do(a0, http.MethodDelete, fmt.Sprintf("/dav/%s/contacts/default/%s-1.vcf", a0.Username, a0.Username), "", nil, http.StatusNoContent, http.StatusOK)
	c.do(a1, http.MethodPut, "/dav/"+a1.Username+"/calendars/default/party.ics", "text/calendar",
		vcalendar("VEVENT", a1.Username+"-party", "party CANCELLED"), http.StatusNoContent, http.StatusCreated)
	// The same contact, folded differently and with its properties in
	// another order: other bytes, the same meaning.
	refolded := bytes.Replace(vcard(a2.Username+"-0", "Friend 0 of "+a2.Username), []byte("FN:Friend 0 of "), []byte("FN:Friend 0\r\n  of "), 1)
	c.do(a2, http.MethodPut, fmt.Sprintf("/dav/%s/contacts/default/%s-0.vcf", a2.Username, a2.Username), "text/vcard", refolded,
		http.StatusNoContent, http.StatusCreated)
	// a1's photo shows up in a2's account, and a2 takes a new photo.
	c.do(a2, http.MethodPut, "/dav/"+a2.Username+"/photos/IMG_0002.jpg", "image/jpeg", photo(a1), http.StatusCreated)
	c.do(a2, http.MethodPut, "/dav/"+a2.Username+"/photos/IMG_0003.jpg", "image/jpeg", []byte("\xff\xd8 a new photo \xff\xd9"), http.StatusCreated)

	// Below the protocol, as a botched storage move would: a0's journal
	// entry ends up in a calendar of its own.
	moveToNewCalendar(t, ctx, st, a0.Username, "diary.ics")

	jsonOut := filepath.Join(dir, "result.json")
	code, out, errOut = runCLI(t, nil, "verify", "--server", server, "--users", users, "--baseline", snap, "--json", jsonOut)
	t.Logf("verify after damage:\n%s", out)
	if code != exitFail {
		t.Fatalf("verify after damage: exit %d, want %d\n%s\n%s", code, exitFail, out, tail(errOut, 10))
	}
	for _, want := range []string{
		"verify: fail: 3 of 3 users damaged against the snapshot: 1 lost, 1 changed, 1 foreign, 1 moved items",
		a0.Username + ": moved note/diary.ics: present with the right content, but in /dav/" + a0.Username + "/calendars/work/ instead of /dav/" + a0.Username + "/calendars/default/, where the snapshot found it",
		"damaged             3", "intact              0",
		a0.Username + ": lost contact/" + a0.Username + "-1.vcf: missing: the snapshot holds it",
		a1.Username + ": changed event/party.ics: content differs from the snapshot's",
		a2.Username + ": foreign photo/IMG_0002.jpg: belongs to " + a1.Username + " (photo/IMG_0001.jpg), whose account held it in the snapshot",
		"re-serialised by the server (same meaning, other bytes; intact): 1 items",
		"new since the snapshot (not damage; their content is not checked): 1 items (first: " + a2.Username + " photo/IMG_0003.jpg)",
		"canary: 6 of 6 planted damages caught",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var res verify.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != verify.Fail || res.Counts.Lost != 1 || res.Counts.Changed != 1 || res.Counts.Foreign != 1 || res.Counts.Moved != 1 ||
		res.Counts.New != 1 || res.Counts.Reserialised != 1 || len(res.Users) != 3 ||
		res.Baseline == nil || res.Baseline.File != snap || res.Baseline.Server != server || res.Baseline.Items != 21 {
		t.Errorf("result JSON: status %s, counts %+v, %d users listed", res.Status, res.Counts, len(res.Users))
	}
	for _, u := range res.Users {
		if u.User == a2.Username && (len(u.Foreign) != 1 || u.Foreign[0].Owner != a1.Username || len(u.New) != 1) {
			t.Errorf("%s in the JSON: %+v", a2.Username, u)
		}
	}
}

// moveToNewCalendar moves a user's calendar object into a new calendar
// "work" in the database, below syncd: the same item, in another
// collection.
func moveToNewCalendar(t *testing.T, ctx context.Context, st *stack.Stack, user, name string) {
	t.Helper()
	dsn, err := st.Postgres.DSN(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO collections (user_id, path, kind, display_name, components, created_seq, ctag_seq)
		SELECT id, 'calendars/work', 'calendar', 'Work', '{VEVENT,VTODO,VJOURNAL}', sync_seq, sync_seq FROM users WHERE name = $1`, user); err != nil {
		t.Fatalf("make %s's calendar work: %v", user, err)
	}
	tag, err := conn.Exec(ctx, `UPDATE items SET collection_id = (SELECT c.id FROM collections c JOIN users u ON u.id = c.user_id WHERE u.name = $1 AND c.path = 'calendars/work')
		WHERE name = $2 AND collection_id = (SELECT c.id FROM collections c JOIN users u ON u.id = c.user_id WHERE u.name = $1 AND c.path = 'calendars/default')`, user, name)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("move %s's %s: %v (%d rows)", user, name, err, tag.RowsAffected())
	}
}
