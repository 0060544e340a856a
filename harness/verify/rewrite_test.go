package verify

import (
	"slices"
	"strings"
	"testing"

	"github.com/firedrill/firedrill/harness/canon"
	"github.com/firedrill/firedrill/harness/model"
)

// writtenBy serves Input.Written from what the fixture's devices wrote, as
// the drill does from its seeded generator.
func (f *fixture) writtenBy(user, key string, d model.Digest) ([]byte, bool) {
	kind, _, _ := model.SplitItemKey(key)
	for _, b := range f.written[user+" "+key] {
		if got, err := canon.Digest(kind, b); err == nil && got == d {
			c, err := canon.Canonical(kind, b)
			return c, err == nil
		}
	}
	return nil, false
}

// fakeExplain stands in for canon.Compare: lines that differ and name a
// server-managed property (X-SERVER-*, REV) are rewrites, others damage.
func fakeExplain(kind model.Kind, want, got []byte) Comparison {
	wc, _ := canon.Canonical(kind, want)
	gc, _ := canon.Canonical(kind, got)
	wl, gl := strings.Split(string(wc), "\n"), strings.Split(string(gc), "\n")
	var cmp Comparison
	for _, side := range []struct {
		lines, other []string
		what         string
	}{{wl, gl, "removed"}, {gl, wl, "added"}} {
		for _, l := range side.lines {
			if slices.Contains(side.other, l) {
				continue
			}
			if strings.HasPrefix(l, "X-SERVER") || strings.HasPrefix(l, "REV:") {
				cmp.Rewrites = append(cmp.Rewrites, side.what+" "+l)
			} else {
				cmp.Damage = append(cmp.Damage, side.what+" "+l)
			}
		}
	}
	return cmp
}

// TestRewrittenVersusChanged: an item the server rewrote in allowed ways is
// its own class, listed and counted, never damage; any other difference is a
// change explained property by property.
func TestRewrittenVersusChanged(t *testing.T) {
	f := standard(t, 3)
	l := f.load()
	key := "contact/" + uuidFor("user01", 0) + ".vcf"
	serve := func(o *model.Observation, edit func(string) string) {
		uo := userObs(o, "user01")
		*itemObs(uo, key) = observeItem(key, []byte(edit(string(f.server["user01"][key]))))
	}
	addServerID := func(s string) string { return strings.Replace(s, "END:VCARD", "X-SERVER-ID:42\r\nEND:VCARD", 1) }
	changeTel := func(s string) string {
		return strings.Replace(s, "TEL;TYPE=CELL:+1 555 0010", "TEL;TYPE=CELL:+1 555 0666", 1)
	}
	cases := []struct {
		name     string
		edit     func(string) string
		explain  func(model.Kind, []byte, []byte) Comparison
		written  bool
		status   Status
		class    string
		verdict  Verdict
		contains string // substring of a Rewrites or Diff line
	}{
		{"server-managed property added", addServerID, fakeExplain, true, Pass, ClassRewritten, Rewritten, "added X-SERVER-ID:42"},
		{"device property changed", changeTel, fakeExplain, true, Fail, ClassChanged, Damaged, "added TEL;TYPE=cell:+1 555 0666"},
		{"both: a change, with the rewrite listed", func(s string) string { return changeTel(addServerID(s)) }, fakeExplain, true, Fail, ClassChanged, Damaged, "rewrite: added X-SERVER-ID:42"},
		{"no explainer: every difference is a change", addServerID, nil, true, Fail, ClassChanged, Damaged, "X-SERVER-ID"},
		{"explainer finding nothing is not a rewrite", addServerID, func(model.Kind, []byte, []byte) Comparison { return Comparison{} }, true, Fail, ClassChanged, Damaged, "X-SERVER-ID"},
		{"written body unknown: no rewrite can be told", addServerID, fakeExplain, false, Fail, ClassChanged, Damaged, "(body of the acknowledged version not available)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := f.observe()
			serve(&obs, c.edit)
			in := Input{Ledger: l, Observation: obs, Mode: Latest, RecoveryPoint: f.now(), Explain: c.explain}
			if c.written {
				in.Written = f.writtenBy
			} else {
				in.Bodies = func(model.Digest) ([]byte, bool) { return nil, false }
			}
			res, users := userResults(in)
			if res.Status != c.status {
				t.Fatalf("status %s, want %s: %s", res.Status, c.status, res.Summary(3, 3))
			}
			u := users["user01"]
			if u.Verdict != c.verdict {
				t.Errorf("verdict %s, want %s", u.Verdict, c.verdict)
			}
			items := *u.list(c.class)
			if len(items) != 1 || items[0].Key != key || u.damagedItems()+len(u.Rewritten) != 1 {
				t.Fatalf("%s = %+v; want just %s", c.class, u, key)
			}
			lines := append(slices.Clone(items[0].Rewrites), items[0].Diff...)
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, c.contains) }) {
				t.Errorf("lines %q, want one containing %q", lines, c.contains)
			}
			if c.class == ClassRewritten {
				if res.Counts.Rewritten != 1 || res.Counts.RewrittenUsers != 1 || res.RPO.LostWrites != 0 || !strings.Contains(res.Reason, "rewritten by the server") {
					t.Errorf("counts %+v, reason %q", res.Counts, res.Reason)
				}
				if len(res.Users) != 1 || res.Users[0].User != "user01" {
					t.Errorf("listed users %+v: the rewritten user must be listed, not silent", res.Users)
				}
			}
		})
	}
}
