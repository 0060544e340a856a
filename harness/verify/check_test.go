package verify

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
)

func TestIntactPasses(t *testing.T) {
	f := standard(t, 12)
	l := f.load()
	res := Check(Input{Ledger: l, Observation: f.observe(), Mode: Latest, RecoveryPoint: f.now(), Bodies: f.bodyOf})
	if res.Status != Pass {
		t.Fatalf("intact observation: %s", res.Summary(3, 3))
	}
	c := res.Counts
	// per user: 3 contacts (one deleted), 2 events, 1 photo, 1 appdata = 7 items;
	// writes: 7 + 3 = 10 acknowledged.
	if c.Users != 12 || c.Items != 12*7 || c.Acked != 12*10 || c.DamagedUsers != 0 || c.Ambiguous != 0 {
		t.Errorf("counts = %+v", c)
	}
	if len(res.Users) != 0 || c.IntactUsers != 12 || len(res.IntactSample) != 12 {
		t.Errorf("listed users %+v, intact %d, sample %q; want none listed, 12 intact", res.Users, c.IntactUsers, res.IntactSample)
	}
	if k := res.Canary; k == nil || k.Planted != len(canaryDamage) || k.Caught != k.Planted {
		t.Errorf("canary = %+v, want every damage planted and caught", k)
	}
	if res.RPO != (RPO{}) {
		t.Errorf("RPO = %+v, want zero", res.RPO)
	}
}

// TestPlantedDamage plants one kind of damage at a time and expects the
// verifier to report exactly that user and item, and nothing else.
func TestPlantedDamage(t *testing.T) {
	f := standard(t, 8)
	l := f.load()
	intact := f.observe()
	contact := func(user string, i int) string { return "contact/" + uuidFor(user, i) + ".vcf" }

	type want struct {
		user, list, key string
		detail          string // substring of the detail
		diff            string // substring of a Diff line
	}
	cases := []struct {
		name  string
		plant func(o *model.Observation)
		want  []want
		rpo   int
	}{
		{"deleted item", func(o *model.Observation) {
			removeItem(userObs(o, "user03"), contact("user03", 0))
		}, []want{{"user03", "lost", contact("user03", 0), "missing; last acknowledged write returned at +", ""}}, 1},
		{"one changed property", func(o *model.Observation) {
			uo := userObs(o, "user04")
			key := contact("user04", 1)
			body := f.server["user04"][key]
			changed := strings.Replace(string(body), "TEL;TYPE=CELL:+1 555 9004", "TEL;TYPE=CELL:+1 555 9005", 1)
			*itemObs(uo, key) = observeItem(key, []byte(changed))
		}, []want{{"user04", "changed", contact("user04", 1), "content differs from every version written", `TEL;TYPE=cell: "+1 555 9004" -> "+1 555 9005"`}}, 0},
		{"rolled back to an older version", func(o *model.Observation) {
			key := contact("user05", 1)
			*itemObs(userObs(o, "user05"), key) = observeItem(key, f.version("user05", key, 0))
		}, []want{{"user05", "changed", contact("user05", 1), "stale: shows the version written at +", "TEL;TYPE=cell"}}, 1},
		{"one changed photo byte", func(o *model.Observation) {
			uo := userObs(o, "user02")
			body := append([]byte(nil), f.server["user02"]["photo/IMG_0001.jpg"]...)
			body[1000] ^= 0x01
			*itemObs(uo, "photo/IMG_0001.jpg") = f.observeStored("photo/IMG_0001.jpg", body)
		}, []want{{"user02", "changed", "photo/IMG_0001.jpg", "size 2052 -> 2052", "first difference at offset 1000"}}, 0},
		{"resurrected deleted item", func(o *model.Observation) {
			uo := userObs(o, "user06")
			key := contact("user06", 2)
			uo.Items = append(uo.Items, observeItem(key, f.version("user06", key, 0)))
		}, []want{{"user06", "resurrected", contact("user06", 2), "deleted (acknowledged at +", ""}}, 1},
		{"item moved to another user", func(o *model.Observation) {
			it := removeItem(userObs(o, "user01"), contact("user01", 0))
			userObs(o, "user07").Items = append(userObs(o, "user07").Items, it)
		}, []want{
			{"user01", "lost", contact("user01", 0), "missing", ""},
			{"user07", "foreign", contact("user01", 0), "belongs to user01", ""},
		}, 1},
		{"shared key moved", func(o *model.Observation) {
			// app data has the same key for every user: the content names the owner.
			mine := removeItem(userObs(o, "user00"), "appdata/tetris/highscores.json")
			theirs := itemObs(userObs(o, "user03"), "appdata/tetris/highscores.json")
			*theirs = mine
		}, []want{
			{"user00", "lost", "appdata/tetris/highscores.json", "missing", ""},
			{"user03", "changed", "appdata/tetris/highscores.json", "content differs", ""},
		}, 2}, // user00's create and update of the app data are both lost
		{"truncated body", func(o *model.Observation) {
			key := contact("user05", 0)
			body := f.server["user05"][key]
			*itemObs(userObs(o, "user05"), key) = observeItem(key, body[:len(body)/2])
		}, []want{{"user05", "unreadable", contact("user05", 0), "unreadable: parse vcard: BEGIN:VCARD without END", ""}}, 0},
		{"garbage body", func(o *model.Observation) {
			key := "event/" + uuidFor("user04", 3) + ".ics"
			*itemObs(userObs(o, "user04"), key) = observeItem(key, []byte("<html><body>502 Bad Gateway</body></html>"))
		}, []want{{"user04", "unreadable", "event/" + uuidFor("user04", 3) + ".ics", "unreadable: parse icalendar: line 1", ""}}, 0},
		{"unreadable account", func(o *model.Observation) {
			uo := userObs(o, "user06")
			uo.Items, uo.Unreadable = nil, "PROPFIND: 401 Unauthorized"
		}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := cloneObs(intact)
			c.plant(&obs)
			res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now(), Bodies: f.bodyOf})
			if res.Status != Fail {
				t.Fatalf("status %s, want fail: %s", res.Status, res.Reason)
			}
			if c.name == "unreadable account" {
				d := res.Damaged()
				if len(d) != 1 || d[0].User != "user06" || d[0].Verdict != Unreadable || len(d[0].Unreadable) != 6 {
					t.Fatalf("damaged = %+v", d)
				}
				return
			}
			var got []string
			for _, u := range res.Damaged() {
				for list, items := range map[string][]ItemDetail{"lost": u.Lost, "changed": u.Changed, "resurrected": u.Resurrected, "foreign": u.Foreign, "unreadable": u.Unreadable} {
					for _, it := range items {
						got = append(got, u.User+" "+list+" "+it.Key)
						for _, w := range c.want {
							if w.user != u.User || w.list != list || w.key != it.Key {
								continue
							}
							if !strings.Contains(it.Detail, w.detail) {
								t.Errorf("%s %s: detail %q, want it to contain %q", list, it.Key, it.Detail, w.detail)
							}
							if w.diff != "" && !slices.ContainsFunc(it.Diff, func(l string) bool { return strings.Contains(l, w.diff) }) {
								t.Errorf("%s %s: diff %q, want a line containing %q", list, it.Key, it.Diff, w.diff)
							}
						}
					}
				}
			}
			var wantKeys []string
			for _, w := range c.want {
				wantKeys = append(wantKeys, w.user+" "+w.list+" "+w.key)
			}
			slices.Sort(got)
			slices.Sort(wantKeys)
			if !reflect.DeepEqual(got, wantKeys) {
				t.Errorf("reported %q, want exactly %q\n%s", got, wantKeys, res.Summary(5, 5))
			}
			if res.RPO.LostWrites != c.rpo {
				t.Errorf("RPO = %+v, want %d lost writes", res.RPO, c.rpo)
			}
			if c.rpo > 0 && res.RPO.AgeSeconds <= 0 {
				t.Errorf("RPO age = %v, want > 0", res.RPO.AgeSeconds)
			}
		})
	}
}

func TestForeignOwnerByContent(t *testing.T) {
	f := standard(t, 3)
	l := f.load()
	obs := f.observe()
	// user02's photo shows up in user00's account under another name.
	it := *itemObs(userObs(&obs, "user02"), "photo/IMG_0001.jpg")
	it.Key = "photo/IMG_9999.jpg"
	userObs(&obs, "user00").Items = append(userObs(&obs, "user00").Items, it)
	// and an item nobody wrote.
	userObs(&obs, "user01").Items = append(userObs(&obs, "user01").Items, observeItem("appdata/chess/state.json", []byte("{}")))
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
	d := res.Damaged()
	if len(d) != 2 || d[0].User != "user00" || d[1].User != "user01" {
		t.Fatalf("damaged users: %s", res.Summary(5, 5))
	}
	if fo := d[0].Foreign; len(fo) != 1 || fo[0].Owner != "user02" || fo[0].OwnerKey != "photo/IMG_0001.jpg" {
		t.Errorf("foreign in user00 = %+v", fo)
	}
	if fo := d[1].Foreign; len(fo) != 1 || fo[0].Owner != "" || fo[0].Detail != "no user wrote this item" {
		t.Errorf("foreign in user01 = %+v", fo)
	}
}

func TestAmbiguousWrites(t *testing.T) {
	f := standard(t, 2)
	uid := uuidFor("user00", 0)
	key := "contact/" + uid + ".vcf"
	old := f.server["user00"][key]
	newer := vcardBody(uid, "Zoë Ångström", "+1 555 7777")
	f.put("user00", key, newer, ledger.Ambiguous, false)
	created := "event/" + uuidFor("user01", 9) + ".ics"
	f.put("user01", created, eventBody(uuidFor("user01", 9), "Maybe", "20240305T100000"), ledger.Ambiguous, false)
	f.put("user01", "photo/IMG_0002.jpg", photoBody(99, 100), ledger.Failed, false)
	l := f.load()

	for _, variant := range []struct {
		name          string
		body          []byte
		createdExists bool
	}{{"old version", old, false}, {"new version", newer, true}} {
		obs := f.observe()
		*itemObs(userObs(&obs, "user00"), key) = observeItem(key, variant.body)
		if variant.createdExists {
			uo := userObs(&obs, "user01")
			uo.Items = append(uo.Items, observeItem(created, eventBody(uuidFor("user01", 9), "Maybe", "20240305T100000")))
		}
		res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
		if res.Status != Pass || res.Counts.Ambiguous != 2 {
			t.Errorf("ambiguous write, %s: %s (ambiguous %d)", variant.name, res.Summary(3, 3), res.Counts.Ambiguous)
		}
	}
	// A write that failed must not show.
	obs := f.observe()
	uo := userObs(&obs, "user01")
	uo.Items = append(uo.Items, observeItem("photo/IMG_0002.jpg", photoBody(99, 100)))
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
	if d := res.Damaged(); len(d) != 1 || len(d[0].Changed) != 1 || !strings.Contains(d[0].Changed[0].Detail, "write that failed") {
		t.Errorf("failed write present: %s", res.Summary(3, 3))
	}
}

func TestLatestAllowsWritesAfterTheRecoveryPoint(t *testing.T) {
	f := standard(t, 2)
	r := f.now()
	uid := uuidFor("user00", 0)
	key := "contact/" + uid + ".vcf"
	old := f.server["user00"][key]
	f.put("user00", key, vcardBody(uid, "Late Update", "+1 555 0000"), ledger.OK, true)
	f.del("user01", "photo/IMG_0001.jpg", ledger.OK, true)
	l := f.load()
	for _, keepOld := range []bool{false, true} {
		obs := f.observe()
		if keepOld {
			*itemObs(userObs(&obs, "user00"), key) = observeItem(key, old)
		}
		if res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: r}); res.Status != Pass {
			t.Errorf("keepOld=%v: %s", keepOld, res.Summary(3, 3))
		}
	}
	// At the later recovery point the update must be there.
	obs := f.observe()
	*itemObs(userObs(&obs, "user00"), key) = observeItem(key, old)
	if res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()}); res.Status != Fail || res.RPO.LostWrites != 1 {
		t.Errorf("stale after the update was acknowledged: %s", res.Summary(3, 3))
	}
}

func TestPointInTime(t *testing.T) {
	f := newFixture(t)
	a, b := "note/a.ics", "note/b.ics"
	note := func(uid, text string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VJOURNAL\r\nUID:" + uid + "\r\nDTSTAMP:20240101T000000Z\r\nDESCRIPTION:" + text + "\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n")
	}
	f.put("ann", a, note("a", "a1"), ledger.OK, true)
	f.put("ann", b, note("b", "b1"), ledger.OK, true)
	f.put("ann", a, note("a", "a2"), ledger.OK, true)
	f.put("ann", b, note("b", "b2"), ledger.OK, true)
	f.put("bob", "note/c.ics", note("c", "c1"), ledger.OK, true)
	l := f.load()
	obsWith := func(av, bv string) model.Observation {
		o := f.observe()
		uo := userObs(&o, "ann")
		*itemObs(uo, a) = observeItem(a, note("a", av))
		*itemObs(uo, b) = observeItem(b, note("b", bv))
		return o
	}
	in := Input{Ledger: l, Mode: PointInTime, Lower: 0, Upper: f.now()}

	// a2 with b1 is the state between a2's and b2's acknowledgements: consistent,
	// with b2 lost to the restore point.
	in.Observation = obsWith("a2", "b1")
	c := NewChecker(in)
	var u UserResult
	for _, uo := range in.Observation.Users {
		if ur := c.User(uo); ur.User == "ann" {
			u = ur
		}
	}
	res := c.Result()
	if res.Status != Pass {
		t.Fatalf("consistent prefix: %s", res.Summary(3, 3))
	}
	if u.Cut == nil || res.RPO.LostWrites != 1 {
		t.Errorf("cut %v, RPO %+v; want a cut and 1 lost write", u.Cut, res.RPO)
	}
	// a1 with b2 never existed at any one time.
	in.Observation = obsWith("a1", "b2")
	res = Check(in)
	if res.Status != Fail || res.Counts.DamagedUsers != 1 {
		t.Fatalf("mixed cuts: %s", res.Summary(3, 3))
	}
	u = res.Damaged()[0]
	if u.User != "ann" || !strings.Contains(u.Reason, "mixes cuts") || len(u.Changed) != 1 {
		t.Errorf("mixed cuts reported as %+v", u)
	}
	// The latest state is the upper bound's cut.
	in.Observation = obsWith("a2", "b2")
	if res := Check(in); res.Status != Pass || res.RPO.LostWrites != 0 {
		t.Errorf("latest state: %s", res.Summary(3, 3))
	}
	// A lower bound after b2: b1 is too old.
	in.Lower = in.Upper
	in.Observation = obsWith("a2", "b1")
	if res := Check(in); res.Status != Fail {
		t.Errorf("state older than the lower bound: %s", res.Summary(3, 3))
	}
}

func TestUnknown(t *testing.T) {
	f := standard(t, 3)
	l := f.load()
	base := Input{Ledger: l, Mode: Latest, RecoveryPoint: f.now()}
	cases := []struct {
		name   string
		edit   func(in *Input)
		reason string
	}{
		{"stranger", func(in *Input) {
			in.Observation.Users = append(in.Observation.Users, model.UserObservation{User: "mallory"})
		}, "1 users the ledger never wrote for (mallory)"},
		{"missing user", func(in *Input) { in.Observation.Users = in.Observation.Users[1:] }, "lacks 1 users the ledger wrote for (user00)"},
		{"duplicate user", func(in *Input) {
			in.Observation.Users = append(in.Observation.Users, in.Observation.Users[0])
		}, "more than once (user00)"},
		{"bad key", func(in *Input) {
			in.Observation.Users[0].Items = append(in.Observation.Users[0].Items, model.ObservedItem{Key: "IMG_0001.jpg"})
		}, "invalid or duplicate item keys (user00:IMG_0001.jpg)"},
		{"bad mode", func(in *Input) { in.Mode = "yesterday" }, `mode "yesterday"`},
		{"bad bounds", func(in *Input) { in.Mode, in.Lower, in.Upper = PointInTime, 10, 5 }, "want 0 <= lower <= upper"},
		{"no ledger", func(in *Input) { in.Ledger = nil }, "no ledger"},
	}
	for _, c := range cases {
		in := base
		in.Observation = f.observe()
		c.edit(&in)
		res := Check(in)
		if res.Status != Unknown || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%s: %s: %s; want unknown containing %q", c.name, res.Status, res.Reason, c.reason)
		}
	}
}

func TestTornLedgerIsUnknown(t *testing.T) {
	f := standard(t, 2)
	f.load()
	f.w.Close()
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last frame short, as a crash while writing it would leave it.
	if err := os.WriteFile(f.path, data[:len(data)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Load(f.path)
	if err != nil || l.Torn == nil {
		t.Fatalf("Load: %v, torn %v", err, l.Torn)
	}
	res := Check(Input{Ledger: l, Observation: f.observe(), Mode: Latest, RecoveryPoint: f.now()})
	if res.Status != Unknown || !strings.Contains(res.Reason, "ledger is incomplete") {
		t.Errorf("torn ledger: %s", res.Summary(3, 3))
	}
}

func TestResultJSON(t *testing.T) {
	f := standard(t, 2)
	l := f.load()
	obs := f.observe()
	removeItem(userObs(&obs, "user01"), "photo/IMG_0001.jpg")
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"status":"fail"`, `"recovery_point_ns":`, `"rpo":{"lost_writes":1,"age_seconds":`, `"counts":{"users":2,"damaged_users":1`,
		`"verdict":"damaged"`, `"lost":[{"key":"photo/IMG_0001.jpg","expected":[{"present":true,"digest":"`, `"last_acked_ns":`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s:\n%s", field, b)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, res) {
		t.Errorf("JSON round trip differs: %v", err)
	}
}

func ExampleResult_Summary() {
	r := Result{Status: Fail, Reason: "1 of 2 users damaged", Users: []UserResult{{
		User: "ann", Verdict: Damaged,
		Lost: []ItemDetail{{Key: "contact/a.vcf", Detail: "missing; last acknowledged write returned at +1.500s"}},
	}}}
	fmt.Println(r.Summary(3, 3))
	_ = time.Second
	// Output:
	// fail: 1 of 2 users damaged
	//   ann: lost contact/a.vcf: missing; last acknowledged write returned at +1.500s
}
