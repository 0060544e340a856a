package gen

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // go-ical resolves TZIDs with time.LoadLocation: never depend on the host's zoneinfo
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

func loadProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeterministic(t *testing.T) {
	p := loadProfile(t, "tiny")
	a, b := New(42, p), New(42, p)
	other := New(43, p)
	for _, k := range model.Kinds {
		for v := 0; v < 3; v++ {
			x, y := a.Item("alice", k, 1, v), b.Item("alice", k, 1, v)
			if !bytes.Equal(x.Body, y.Body) || x.Name != y.Name {
				t.Errorf("%v v%d: same seed, user, index and version gave different items", k, v)
			}
			if z := other.Item("alice", k, 1, v); bytes.Equal(x.Body, z.Body) {
				t.Errorf("%v v%d: seeds 42 and 43 gave the same bytes", k, v)
			}
			if z := a.Item("bob", k, 1, v); bytes.Equal(x.Body, z.Body) {
				t.Errorf("%v v%d: users alice and bob got the same bytes", k, v)
			}
		}
		if v0, v1 := a.Item("alice", k, 1, 0), a.Item("alice", k, 1, 1); bytes.Equal(v0.Body, v1.Body) || v0.Name != v1.Name {
			t.Errorf("%v: versions 0 and 1 must keep the name and change the bytes", k)
		}
	}
	// A late version regenerates on its own: generating earlier versions first
	// changes nothing.
	fresh := New(42, p).Item("carol", model.KindNote, 3, 5)
	for v := 0; v < 5; v++ {
		a.Item("carol", model.KindNote, 3, v)
	}
	if again := a.Item("carol", model.KindNote, 3, 5); !bytes.Equal(fresh.Body, again.Body) {
		t.Error("version 5 depends on what was generated before it")
	}
	pa, pb := a.Plan("alice"), b.Plan("alice")
	if len(pa.Ops) != len(pb.Ops) || pa.Devices != pb.Devices {
		t.Fatal("same seed gave different plans")
	}
	for i := range pa.Ops {
		if pa.Ops[i] != pb.Ops[i] {
			t.Fatalf("plan op %d differs: %+v vs %+v", i, pa.Ops[i], pb.Ops[i])
		}
	}
}

func TestContactsParse(t *testing.T) {
	p := loadProfile(t, "tiny")
	g := New(7, p)
	var v3, v4, photos, nonASCII int
	for i := 0; i < 300; i++ {
		it := g.Item("user", model.KindContact, i, i%3)
		card, err := vcard.NewDecoder(bytes.NewReader(it.Body)).Decode()
		if err != nil {
			t.Fatalf("contact %d does not parse: %v\n%s", i, err, it.Body)
		}
		switch card.Value(vcard.FieldVersion) {
		case "3.0":
			v3++
		case "4.0":
			v4++
		default:
			t.Fatalf("contact %d: VERSION %q", i, card.Value(vcard.FieldVersion))
		}
		fn := card.PreferredValue(vcard.FieldFormattedName)
		if fn == "" || card.Name() == nil {
			t.Errorf("contact %d: no FN or N", i)
		}
		if strings.ContainsFunc(fn, func(r rune) bool { return r > 0x7f }) {
			nonASCII++
		}
		if len(card[vcard.FieldTelephone]) < 1 || len(card[vcard.FieldEmail]) < 1 {
			t.Errorf("contact %d: want at least one TEL and EMAIL", i)
		}
		uid := strings.TrimPrefix(card.Value(vcard.FieldUID), "urn:uuid:")
		if it.Name != uid+".vcf" {
			t.Errorf("contact %d: name %q does not follow UID %q", i, it.Name, uid)
		}
		if card.Get(vcard.FieldPhoto) != nil {
			photos++
		}
		for _, line := range strings.Split(string(it.Body), "\r\n") {
			if len(line) > 75 {
				t.Fatalf("contact %d: unfolded line of %d octets", i, len(line))
			}
			if !utf8.ValidString(line) {
				t.Fatalf("contact %d: folding split a UTF-8 sequence: %q", i, line)
			}
		}
	}
	if v3 == 0 || v4 == 0 || photos == 0 || nonASCII < 100 {
		t.Errorf("want a mix: vCard 3.0 %d, 4.0 %d, with photo %d, non-ASCII names %d of 300", v3, v4, photos, nonASCII)
	}
}

// TestContactListForms checks that generated contacts exercise the list
// forms the canonical form must get right: comma-separated values, and commas
// escaped inside one value.
func TestContactListForms(t *testing.T) {
	g := New(7, loadProfile(t, "tiny"))
	// The list forms the canonical form must get right: comma-separated
	// values, and commas escaped inside one value.
	forms := map[string]*regexp.Regexp{
		"N with additional names":     regexp.MustCompile(`(?m)^N:[^;]*;[^;]*;[^;\r]*[^\\],`),
		"N suffix with escaped comma": regexp.MustCompile(`(?m)^N:.*Ph\.D\.\\, retired`),
		"ADR street list":             regexp.MustCompile(`(?m)^ADR[^:]*:;;c/o [^;]*,`),
		"ADR escaped comma":           regexp.MustCompile(`(?m)^ADR[^:]*:;;[^;]*\\,`),
		"CATEGORIES list":             regexp.MustCompile(`(?m)^CATEGORIES:.*[^\\],`),
		"CATEGORIES escaped comma":    regexp.MustCompile(`(?m)^CATEGORIES:.*\\, `),
		"NICKNAME":                    regexp.MustCompile(`(?m)^NICKNAME:`),
	}
	requireForms(t, g, model.KindContact, 300, forms)
}

// requireForms wants each form to occur in some of n generated items of kind k.
func requireForms(t *testing.T, g *Generator, k model.Kind, n int, forms map[string]*regexp.Regexp) {
	t.Helper()
	for name, re := range forms {
		found := false
		for i := 0; i < n && !found; i++ {
			found = re.Match(unfoldCRLF(g.Item("user", k, i, i%3).Body))
		}
		if !found {
			t.Errorf("no generated %s has %s (%s)", k, name, re)
		}
	}
}

func TestCalendarParse(t *testing.T) {
	p := loadProfile(t, "tiny")
	g := New(9, p)
	seen := map[string]int{}
	for _, k := range []model.Kind{model.KindEvent, model.KindTodo, model.KindNote} {
		want := map[model.Kind]string{model.KindEvent: ical.CompEvent, model.KindTodo: ical.CompToDo, model.KindNote: ical.CompJournal}[k]
		for i := 0; i < 200; i++ {
			it := g.Item("user", k, i, i%2)
			cal, err := ical.NewDecoder(bytes.NewReader(it.Body)).Decode()
			if err != nil {
				t.Fatalf("%v %d does not parse: %v\n%s", k, i, err, it.Body)
			}
			var comps int
			for _, c := range cal.Children {
				switch c.Name {
				case ical.CompTimezone:
					seen["vtimezone"]++
				case want:
					comps++
					if c.Props.Get(ical.PropUID) == nil || c.Props.Get(ical.PropDateTimeStamp) == nil {
						t.Errorf("%v %d: component without UID or DTSTAMP", k, i)
					}
					if c.Props.Get(ical.PropRecurrenceID) != nil {
						seen["exception"]++
					}
					if c.Props.Get(ical.PropRecurrenceRule) != nil {
						seen["rrule"]++
					}
					if d := c.Props.Get(ical.PropDateTimeStart); d != nil && d.ValueType() == ical.ValueDate && k == model.KindEvent {
						seen["allday"]++
					}
					if c.Props.Get(ical.PropCompleted) != nil {
						seen["completed"]++
					}
					if c.Props.Get(ical.PropDue) != nil {
						seen["due"]++
					}
					if d := c.Props.Get(ical.PropDescription); d != nil && k == model.KindNote {
						text, err := d.Text()
						if err != nil {
							t.Fatal(err)
						}
						if len(text) > profile.MaxNoteSize {
							t.Errorf("note %d: DESCRIPTION of %d bytes, over 64 KiB", i, len(text))
						}
						seen["note-bytes"] = max(seen["note-bytes"], len(text))
					}
					// TZIDs refer to a VTIMEZONE in the same object.
					for _, props := range c.Props {
						for _, prop := range props {
							if tz := prop.Params.Get(ical.ParamTimezoneID); tz != "" && !strings.Contains(string(it.Body), "TZID:"+tz+"\r\n") {
								t.Errorf("%v %d: TZID %s without its VTIMEZONE", k, i, tz)
							}
						}
					}
				default:
					t.Errorf("%v %d: unexpected component %s", k, i, c.Name)
				}
			}
			if comps == 0 {
				t.Errorf("%v %d: no %s", k, i, want)
			}
		}
	}
	for _, f := range []string{"vtimezone", "exception", "rrule", "allday", "completed", "due"} {
		if seen[f] == 0 {
			t.Errorf("no generated calendar object has %s", f)
		}
	}
	forms := map[string]*regexp.Regexp{
		"BYDAY list":               regexp.MustCompile(`(?m)^RRULE:.*BYDAY=[A-Z]{2},`),
		"UNTIL":                    regexp.MustCompile(`(?m)^RRULE:.*UNTIL=\d{8}T\d{6}Z`),
		"COUNT":                    regexp.MustCompile(`(?m)^RRULE:.*COUNT=\d+`),
		"multi-value EXDATE":       regexp.MustCompile(`(?m)^EXDATE;TZID=[^:]+:\d{8}T\d{6},\d{8}T\d{6}`),
		"RDATE":                    regexp.MustCompile(`(?m)^RDATE;TZID=[^:]+:\d{8}T\d{6}`),
		"custom VTIMEZONE":         regexp.MustCompile(`(?m)^TZID:(W\. Europe Standard Time|Customized Time Zone)\r$`),
		"DURATION in a zone":       regexp.MustCompile(`(?ms)^DTSTART;TZID=[^\r]*\r\nDURATION:PT\d+M\r$`),
		"CATEGORIES escaped comma": regexp.MustCompile(`(?m)^CATEGORIES:.*\\, `),
	}
	requireForms(t, g, model.KindEvent, 400, forms)
	if seen["note-bytes"] < 4<<10 {
		t.Errorf("longest note is %d bytes: want the profile's long notes too", seen["note-bytes"])
	}
}

// unfoldCRLF joins folded lines, for matching whole content lines.
func unfoldCRLF(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\r\n "), nil) }

// TestRecurrenceUntil checks that a rule ending by UNTIL still has every
// occurrence the event's RECURRENCE-IDs and EXDATEs name: UNTIL is after the
// last one, whatever the zone's offset that day.
func TestRecurrenceUntil(t *testing.T) {
	g := New(9, loadProfile(t, "tiny"))
	exdate := regexp.MustCompile(`(?m)^EXDATE;TZID=([^:]+):(.*)\r\n`)
	checked := 0
	for i := 0; i < 400; i++ {
		body := string(unfoldCRLF(g.Item("user", model.KindEvent, i, 0).Body))
		if !strings.Contains(body, ";UNTIL=") || slices.ContainsFunc(zones[numIANA:], func(z zone) bool { return strings.Contains(body, "TZID:"+z.id) }) {
			continue // go-ical resolves only IANA TZIDs
		}
		var want []time.Time // the occurrences the body names
		if m := exdate.FindStringSubmatch(body); m != nil {
			loc, err := time.LoadLocation(m[1])
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range strings.Split(m[2], ",") {
				at, err := time.ParseInLocation(dateTimeFormat, v, loc)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, at)
			}
		}
		// go-ical reads one date per EXDATE line; the EXDATEs are checked above.
		cal, err := ical.NewDecoder(strings.NewReader(exdate.ReplaceAllString(body, ""))).Decode()
		if err != nil {
			t.Fatal(err)
		}
		var master *ical.Event
		for _, ev := range cal.Events() {
			if rid := ev.Props.Get(ical.PropRecurrenceID); rid != nil {
				at, err := rid.DateTime(time.UTC)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, at)
			} else {
				master = &ev
			}
		}
		set, err := master.RecurrenceSet(time.UTC)
		if err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, body)
		}
		all := set.All()
		for _, at := range want {
			if !slices.ContainsFunc(all, at.Equal) {
				t.Errorf("event %d: %s is not an occurrence of %s\n%s", i, at, master.Props.Get(ical.PropRecurrenceRule).Value, body)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d events with UNTIL checked", checked)
	}
}

func TestPhotoSizesAndJPEG(t *testing.T) {
	p := loadProfile(t, "tiny")
	g := New(3, p)
	lo, hi := p.PhotoSizes[0].Min, p.PhotoSizes[len(p.PhotoSizes)-1].Max
	for i := 0; i < 40; i++ {
		it := g.Item("user", model.KindPhoto, i, 0)
		if n := profile.ByteSize(len(it.Body)); n < lo || n > hi {
			t.Errorf("photo %d: %d bytes, outside the profile's %v to %v", i, n, lo, hi)
		}
		if _, err := jpeg.Decode(bytes.NewReader(it.Body)); err != nil {
			t.Errorf("photo %d (%d bytes) is not a decodable JPEG: %v", i, len(it.Body), err)
		}
	}
	for _, n := range []int{3000, 65537 + 3000, 200000, 8 << 20} {
		if b := jpegOfSize(Derive(1, "x"), n); len(b) != n {
			t.Errorf("jpegOfSize(%d) gave %d bytes", n, len(b))
		}
	}
}

func TestAppData(t *testing.T) {
	g := New(5, loadProfile(t, "tiny"))
	names := map[string]bool{}
	for i := 0; i < 8; i++ {
		it := g.Item("user", model.KindAppData, i, 2)
		var doc highScores
		if err := json.Unmarshal(it.Body, &doc); err != nil {
			t.Fatalf("appdata %d: %v", i, err)
		}
		if it.Name != doc.Game+"/highscores.json" || len(doc.Scores) == 0 {
			t.Errorf("appdata %d: name %q, game %q, %d scores", i, it.Name, doc.Game, len(doc.Scores))
		}
		names[it.Name] = true
	}
	if len(names) != 8 {
		t.Errorf("8 app data items share names: %v", names)
	}
}

func TestPlan(t *testing.T) {
	p := loadProfile(t, "small")
	g := New(11, p)
	var creates, updates, deletes int
	devicesSeen := map[int]bool{}
	for u := 0; u < 50; u++ {
		plan := g.Plan("user" + itoa(u))
		if plan.Devices < p.Devices.Min || plan.Devices > p.Devices.Max {
			t.Fatalf("plan has %d devices, profile says %+v", plan.Devices, p.Devices)
		}
		if n := g.Devices(plan.User); n != plan.Devices {
			t.Fatalf("Devices(%s) = %d, its plan has %d", plan.User, n, plan.Devices)
		}
		devicesSeen[plan.Devices] = true
		type state struct {
			version, device int
			deleted         bool
		}
		items := map[string]*state{}
		for _, op := range plan.Ops {
			key := op.Kind.String() + itoa(op.Index)
			st := items[key]
			switch op.Op {
			case Create:
				creates++
				if st != nil {
					t.Fatalf("%s created twice", key)
				}
				items[key] = &state{device: op.Device}
			case Update, Delete:
				if st == nil || st.deleted {
					t.Fatalf("%v of %s before its create or after its delete", op.Op, key)
				}
				if st.device != op.Device {
					t.Fatalf("%s touched by devices %d and %d", key, st.device, op.Device)
				}
				if op.Op == Update {
					updates++
					if op.Version != st.version+1 {
						t.Fatalf("%s updated to version %d after %d", key, op.Version, st.version)
					}
					st.version = op.Version
				} else {
					deletes++
					st.deleted = true
				}
			}
		}
		for k, n := range plan.Counts {
			if r := p.ItemRange(k); n < r.Min || n > r.Max {
				t.Errorf("%d %v items, profile says %+v", n, k, r)
			}
		}
	}
	if len(devicesSeen) != p.Devices.Max-p.Devices.Min+1 {
		t.Errorf("50 users have %v devices, profile says %+v", devicesSeen, p.Devices)
	}
	ratioU := float64(updates) / float64(creates)
	ratioD := float64(deletes) / float64(creates)
	if want := p.Mix.Update / p.Mix.Create; ratioU < want*0.8 || ratioU > want*1.2 {
		t.Errorf("updates/creates = %.3f, profile mix says %.3f", ratioU, want)
	}
	if want := p.Mix.Delete / p.Mix.Create; ratioD < want*0.7 || ratioD > want*1.3 {
		t.Errorf("deletes/creates = %.3f, profile mix says %.3f", ratioD, want)
	}
	if mean := float64(creates) / 50; mean < 40 || mean > 60 {
		t.Errorf("small: %.1f items per user, want about 50", mean)
	}
}

func BenchmarkSmallUser(b *testing.B) {
	p, err := profile.Load("small")
	if err != nil {
		b.Fatal(err)
	}
	g := New(1, p)
	var bytes int64
	for i := 0; i < b.N; i++ {
		user := "user" + itoa(i)
		for _, op := range g.Plan(user).Ops {
			if op.Op != Delete {
				bytes += int64(len(g.Item(user, op.Kind, op.Index, op.Version).Body))
			}
		}
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/user")
}
