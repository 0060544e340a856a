package verify

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/model"
)

// classified lists a result's findings as "user class key".
func classified(res Result) []string {
	var out []string
	for _, u := range res.Users {
		for _, l := range u.lists() {
			for _, d := range *l.items {
				out = append(out, u.User+" "+l.class+" "+d.Key)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestCollectionsInIdentity: an item moved to another collection of its
// user, or kept in two, is damage; a key twice in one collection is an
// observer bug.
func TestCollectionsInIdentity(t *testing.T) {
	f := standard(t, 3)
	f.collections = true
	l := f.load()
	contact := "contact/" + uuidFor("user01", 0) + ".vcf"
	cases := []struct {
		name   string
		plant  func(o *model.Observation)
		status Status
		want   []string
		detail string
	}{
		{"intact with collections", func(*model.Observation) {}, Pass, nil, ""},
		{"moved to another address book", func(o *model.Observation) {
			itemObs(userObs(o, "user01"), contact).Collection = "/dav/user01/contacts/work/"
		}, Fail, []string{"user01 moved " + contact}, "in /dav/user01/contacts/work/ instead of /dav/user01/contacts/"},
		{"the same collection spelt differently is not a move", func(o *model.Observation) {
			itemObs(userObs(o, "user01"), contact).Collection = "http://dav.example/dav/user01/%63ontacts"
		}, Pass, nil, ""},
		{"duplicated into a second collection", func(o *model.Observation) {
			uo := userObs(o, "user01")
			dup := *itemObs(uo, contact)
			dup.Collection = "/dav/user01/contacts/old/"
			uo.Items = append(uo.Items, dup)
		}, Fail, []string{"user01 duplicate " + contact}, "the same item in 2 collections"},
		{"a changed copy in a second collection is a change", func(o *model.Observation) {
			uo := userObs(o, "user01")
			it := itemObs(uo, contact)
			it.Collection = "/dav/user01/contacts/old/"
			uo.Items = append(uo.Items, observeItem(contact, vcardBody("x", "Somebody Else", "+1")))
			uo.Items[len(uo.Items)-1].Collection = "/dav/user01/contacts/"
		}, Fail, []string{"user01 changed " + contact}, "in 2 collections"},
		{"a foreign item in two collections is one foreign item", func(o *model.Observation) {
			it := *itemObs(userObs(o, "user02"), "photo/IMG_0001.jpg")
			it.Key = "photo/IMG_7777.jpg"
			uo := userObs(o, "user00")
			it.Collection = "/dav/user00/photos/"
			uo.Items = append(uo.Items, it)
			it.Collection = "/dav/user00/photos/2009/"
			uo.Items = append(uo.Items, it)
		}, Fail, []string{"user00 foreign photo/IMG_7777.jpg"}, "belongs to user02"},
		{"a key twice in one collection is an observer bug", func(o *model.Observation) {
			uo := userObs(o, "user01")
			uo.Items = append(uo.Items, *itemObs(uo, contact))
		}, Unknown, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := cloneObs(f.observe())
			c.plant(&obs)
			res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now(), Collection: f.collectionOf})
			if res.Status != c.status {
				t.Fatalf("status %s, want %s: %s", res.Status, c.status, res.Summary(5, 5))
			}
			if got := classified(res); !reflect.DeepEqual(got, c.want) {
				t.Errorf("findings %q, want %q", got, c.want)
			}
			if c.detail != "" && !strings.Contains(res.Summary(5, 5), c.detail) {
				t.Errorf("summary lacks %q:\n%s", c.detail, res.Summary(5, 5))
			}
			if c.status == Unknown && !strings.Contains(res.Reason, "invalid or duplicate item keys (user01:"+contact+")") {
				t.Errorf("reason %q", res.Reason)
			}
			if c.status == Pass && len(res.Notes) != 0 {
				t.Errorf("notes %q, want none: every collection was compared", res.Notes)
			}
		})
	}
}

// TestCollectionsNotRecordedSaySo: without recorded collections a move
// cannot be seen, and the result says so instead of passing silently.
func TestCollectionsNotRecordedSaySo(t *testing.T) {
	f := standard(t, 2)
	f.collections = true
	l := f.load()
	obs := f.observe()
	itemObs(userObs(&obs, "user01"), "photo/IMG_0001.jpg").Collection = "/elsewhere/"
	res := Check(Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now()})
	if res.Status != Pass {
		t.Fatalf("%s", res.Summary(3, 3))
	}
	if len(res.Notes) == 0 || !strings.Contains(res.Notes[0], "collections not compared for 12 present items: the ledger records no collection") {
		t.Errorf("notes %q", res.Notes)
	}
}

func TestNormCollection(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"/dav/u1/contacts":                  "/dav/u1/contacts/",
		"/dav/u1/contacts/":                 "/dav/u1/contacts/",
		"/dav//u1/./contacts/":              "/dav/u1/contacts/",
		"https://h:8443/dav/u1/contacts":    "/dav/u1/contacts/",
		"http://h":                          "/",
		"/dav/Zo%C3%AB/address%20book/":     "/dav/Zoë/address book/",
		"/dav/u1/contacts/../calendars/cal": "/dav/u1/calendars/cal/",
	} {
		if got := normCollection(in); got != want {
			t.Errorf("normCollection(%q) = %q, want %q", in, got, want)
		}
	}
}
