package peers_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/accounts"
	"github.com/firedrill/firedrill/harness/canon"
	runner "github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/model"
	"github.com/firedrill/firedrill/harness/observe"
	"github.com/firedrill/firedrill/harness/peers"
	"github.com/firedrill/firedrill/harness/verify"
	"github.com/firedrill/firedrill/harness/workload"
	"github.com/firedrill/firedrill/harness/workload/gen"
	"github.com/firedrill/firedrill/harness/workload/profile"
)

// drillSeed drives the data of every server's drill: the same users, plans and
// items everywhere, so that the servers' results compare.
const drillSeed = 2009

// target describes what one server is expected to do with the tiny profile's
// data: the kinds it hosts, and the documented defects of the server itself
// (docs/compatibility.md) that damage items on their way in. Anything else that
// is damaged is a harness or server bug the test reports.
type target struct {
	name string
	run  runFunc
	// hosts lists the kinds the server can keep; the others must come out
	// "not covered", never as passed or damaged.
	hosts []model.Kind
	// defect returns which documented server defect damages an item whose
	// last acknowledged version is body, or "" when none does.
	defect func(k model.Kind, body []byte, h *ledger.ItemHistory) string
	// planter plants damage in the server's storage.
	planter func(s *peers.Server) planter
}

// planter plants the three damages of the drill in one server's storage. Each
// finds the item by its user and name (the last path segment of its URL).
type planter interface {
	// deleteItem removes one stored item.
	deleteItem(ctx context.Context, user, name string) error
	// changeContact changes the FN property of one stored contact.
	changeContact(ctx context.Context, user, name string) error
	// dropAddressBook removes the address book holding the named contact, with
	// every contact in it.
	dropAddressBook(ctx context.Context, user, name string) error
}

// runDrill is the whole drill against one server.
func runDrill(t *testing.T, tg target) {
	d := startDrill(t, tg)
	res := d.observe()
	d.checkCoverage(res)
	base := d.baseline(res)
	d.plantAndCheck(res, base)
}

// drill is one server's load, observation and checks.
type drill struct {
	t      *testing.T
	tg     target
	srv    *peers.Server
	prof   *profile.Profile
	users  []accounts.Account
	led    *ledger.Ledger
	hist   *ledger.History
	sum    workload.Summary
	bodies map[model.Digest][]byte // generated bodies by digest
	canon  map[model.Digest][]byte // their canonical forms, to explain changes
}

// startDrill starts the server with the tiny profile's users, loads the profile
// through workload.Load into a fresh ledger and returns the drill.
func startDrill(t *testing.T, tg target) *drill {
	t.Helper()
	run := needDocker(t)
	prof, err := profile.Load("tiny")
	if err != nil {
		t.Fatal(err)
	}
	d := &drill{t: t, tg: tg, prof: prof, users: accounts.Generate(prof.Users, drillSeed)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d.srv, err = tg.run(ctx, run, d.users)
	if err != nil {
		t.Fatalf("start %s: %v", tg.name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's last output:\n%s", tg.name, tail(d.srv.Logs(context.Background()), 40))
		}
		d.srv.Terminate(context.Background())
	})
	t.Logf("%s: ready at %s in %s (seed %d)", tg.name, d.srv.URL, d.srv.StartupTime.Round(time.Millisecond), drillSeed)
	cpu0, err := d.srv.CPUTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.sum, d.led = loadProfile(t, tg.name, d.srv.URL, d.users, prof, d.photosURL(), d.appsURL())
	cpu1, err := d.srv.CPUTime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logCost(t, tg.name, d.sum, cpu1-cpu0)
	d.hist = d.led.History()
	d.bodies, d.canon = generatedBodies(prof, d.users)
	return d
}

// loadProfile loads the profile into the server at url through workload.Load
// with a fresh ledger, and returns the load's summary and the ledger.
func loadProfile(t *testing.T, name, url string, users []accounts.Account, prof *profile.Profile, photos, apps string) (workload.Summary, *ledger.Ledger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "run.ledger")
	lw, err := ledger.Create(path, time.Now(), ledger.Meta{Seed: drillSeed, Profile: prof.Name, Server: url})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sum, err := workload.Load(ctx, workload.Config{
		Server: url, Accounts: users, Profile: prof, Seed: drillSeed, Ledger: lw,
		PhotosURL: photos, AppsURL: apps, Log: &log,
	})
	if cerr := lw.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("load %s: %v\n%s", name, err, log.String())
	}
	t.Logf("%s: load: %d attempts, %d ok, %d failed, %d ambiguous, %d refused, %d skipped in %s: %.1f acknowledged writes/s",
		name, sum.Attempts, sum.OK, sum.Failed, sum.Ambiguous, sum.Refused, sum.Skipped,
		sum.Duration.Round(time.Millisecond), sum.AckedPerSecond())
	if log.Len() > 0 {
		t.Logf("%s: load warnings:\n%s", name, tail(log.String(), 30))
	}
	led, err := ledger.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum, led
}

// logCost logs what a load cost the server: its containers' CPU time in all
// and per acknowledged write.
func logCost(t *testing.T, name string, sum workload.Summary, cpu time.Duration) {
	t.Helper()
	per := "n/a"
	if sum.OK > 0 {
		per = fmt.Sprintf("%.2f ms", float64(cpu)/float64(sum.OK)/1e6)
	}
	t.Logf("%s: cost: server CPU %s for %d acknowledged writes (%s CPU per write; wall %.1f writes/s)",
		name, cpu.Round(time.Millisecond), sum.OK, per, sum.AckedPerSecond())
}

// photosURL and appsURL are the templates the load and the observer use: the
// server's layout, or, where the server cannot host files, the place a client
// would try under the user's home, so that the harness itself finds out.
func (d *drill) photosURL() string {
	if d.srv.Layout.PhotosURL != "" {
		return d.srv.Layout.PhotosURL
	}
	return "{base}/{user}/photos/"
}

func (d *drill) appsURL() string {
	if d.srv.Layout.AppsURL != "" {
		return d.srv.Layout.AppsURL
	}
	return "{base}/{user}/apps/"
}

// generatedBodies regenerates every version the devices may have written, by
// content digest, and their canonical forms, as the CLI's verify does to
// explain changes.
func generatedBodies(prof *profile.Profile, users []accounts.Account) (raw, canonical map[model.Digest][]byte) {
	g := gen.New(drillSeed, prof)
	raw, canonical = map[model.Digest][]byte{}, map[model.Digest][]byte{}
	for _, u := range users {
		for _, op := range g.Plan(u.Username).Ops {
			if op.Op == gen.Delete {
				continue
			}
			it := g.Item(u.Username, op.Kind, op.Index, op.Version)
			if d, err := canon.Digest(op.Kind, it.Body); err == nil {
				raw[d] = it.Body
				if c, err := canon.Canonical(op.Kind, it.Body); err == nil {
					canonical[d] = c
				}
			}
		}
	}
	return raw, canonical
}

// observe reads every user back and checks the result against the ledger.
func (d *drill) observe() verify.Result {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	kinds := map[string]map[string]model.Kind{}
	for _, u := range d.hist.Users {
		m := map[string]model.Kind{}
		for _, it := range u.Items {
			if _, name, err := model.SplitItemKey(it.Key); err == nil {
				m[name] = it.Kind
			}
		}
		kinds[u.Name] = m
	}
	obs, err := observe.Observe(ctx, observe.Options{
		Server: d.srv.URL, Accounts: d.users, PhotosURL: d.photosURL(), AppsURL: d.appsURL(), KeepBodies: true,
		KindHint: func(user, name string) (model.Kind, bool) { k, ok := kinds[user][name]; return k, ok },
	})
	if err != nil {
		d.t.Fatalf("observe %s: %v", d.tg.name, err)
	}
	var last int64
	for _, r := range d.led.Records() {
		last = max(last, r.Return)
	}
	// The input a drill and `firedrill verify` give the verifier: bodies
	// regenerated from the seed to explain changes, canon.Compare to tell a
	// server's rewrites from damage, the kinds the profile plans.
	in := runner.NewVerifyInput(d.led, runner.VerifyInput{Mode: verify.Latest, RecoveryPoint: last})
	in.History, in.Observation = d.hist, *obs
	return verify.Check(in)
}

// ackedByKind counts the acknowledged writes of each kind in the ledger.
func (d *drill) ackedByKind() map[model.Kind]int {
	out := map[model.Kind]int{}
	for _, u := range d.hist.Users {
		for _, h := range u.Items {
			for _, w := range h.Writes {
				if w.Outcome == ledger.OK {
					out[h.Kind]++
				}
			}
		}
	}
	return out
}

// problem is one damaged item of a user, e.g. {"user00003", "lost", "contact/x.vcf"}.
type problem struct{ user, class, key string }

func (p problem) String() string { return p.user + ": " + p.class + " " + p.key }

// problems lists every damaged item of a result, and the users that are
// unreadable as a whole (class "account").
func problems(res verify.Result) map[problem]verify.ItemDetail {
	out := map[problem]verify.ItemDetail{}
	for _, u := range res.Users {
		if u.Verdict == verify.Unreadable {
			out[problem{u.User, "account", ""}] = verify.ItemDetail{Detail: u.Reason}
		}
		for class, ds := range map[string][]verify.ItemDetail{
			"lost": u.Lost, "changed": u.Changed, "resurrected": u.Resurrected, "foreign": u.Foreign, "unreadable": u.Unreadable,
		} {
			for _, it := range ds {
				out[problem{u.User, class, it.Key}] = it
			}
		}
	}
	return out
}

func sortedProblems(m map[problem]verify.ItemDetail) []problem {
	out := make([]problem, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// lastAckedBody returns the generated body of an item's last acknowledged
// version, or nil.
func (d *drill) lastAckedBody(user, key string) ([]byte, *ledger.ItemHistory) {
	for i := range d.hist.Users {
		if d.hist.Users[i].Name != user {
			continue
		}
		h := d.hist.Users[i].Find(key)
		if h == nil {
			return nil, nil
		}
		w, ok := h.LastAcked(1 << 62)
		if !ok || w.Op != ledger.OpPut {
			return nil, h
		}
		return d.bodies[w.Digest], h
	}
	return nil, nil
}

// checkCoverage asserts that the load wrote every kind the server hosts and
// that the others come out not covered in the load and in the verdict.
func (d *drill) checkCoverage(res verify.Result) {
	d.t.Helper()
	acked := d.ackedByKind()
	for _, k := range model.Kinds {
		hosted := slices.Contains(d.tg.hosts, k)
		// The load reports a kind it cannot write: not covered (no collection)
		// or refused throughout (every write refused or ambiguous, e.g.
		// DAViCal's 500 for every binary body), which fails the load.
		_, loadSkipped := d.sum.NotCovered[k]
		if ks := d.sum.Kinds[k]; ks.Writes > 0 && ks.Acked == 0 {
			loadSkipped = slices.ContainsFunc(d.sum.Problems(), func(p string) bool { return strings.HasPrefix(p, k.String()+" refused throughout") })
		}
		verdictSkipped := slices.Contains(res.NotCovered, k.String())
		switch {
		case hosted && acked[k] == 0:
			d.t.Errorf("%s hosts %ss, but the load had no %s write acknowledged (load says not covered: %v %q)",
				d.tg.name, k, k, loadSkipped, d.sum.NotCovered[k])
		case hosted && verdictSkipped:
			d.t.Errorf("%s hosts %ss, but verify reports them not covered", d.tg.name, k)
		case !hosted && !loadSkipped:
			d.t.Errorf("%s cannot host %ss, but the load does not report them not covered (%d acknowledged)", d.tg.name, k, acked[k])
		case !hosted && !verdictSkipped:
			d.t.Errorf("%s cannot host %ss, but verify does not report them not covered", d.tg.name, k)
		}
	}
}

// baseline checks the result of the load: every damaged item must be explained
// by a documented defect of the server; it returns the problems found.
func (d *drill) baseline(res verify.Result) map[problem]verify.ItemDetail {
	d.t.Helper()
	got := problems(res)
	if res.Status == verify.Pass && res.Counts.Acked == 0 {
		d.t.Errorf("after the load, verify passes with no acknowledged write checked: %s", res.Reason)
	}
	explained := map[string]int{}
	for _, p := range sortedProblems(got) {
		why := ""
		if kind, _, err := model.SplitItemKey(p.key); err == nil && d.tg.defect != nil {
			body, h := d.lastAckedBody(p.user, p.key)
			why = d.tg.defect(kind, body, h)
		}
		if why == "" {
			d.t.Errorf("after the load, %s (%s) is not explained by any documented %s defect%s", p, got[p].Detail, d.tg.name, diff(got[p]))
			continue
		}
		explained[why]++
	}
	for why, n := range explained {
		d.t.Logf("%s: %d items damaged by the documented defect: %s", d.tg.name, n, why)
	}
	d.t.Logf("%s: after the load: %s", d.tg.name, strings.SplitN(res.Summary(3, 3), "\n", 2)[0])
	return got
}

// pick returns, in user order, an item of kind of a user not in skip that is
// intact after the load and whose last acknowledged write is a put.
func (d *drill) pick(res verify.Result, base map[problem]verify.ItemDetail, kind model.Kind, skip ...string) (user, key string) {
	d.t.Helper()
	damaged := map[string]bool{}
	for p := range base {
		damaged[p.user+" "+p.key] = true
	}
	for _, u := range d.hist.Users {
		if slices.Contains(skip, u.Name) {
			continue
		}
		for i := range u.Items {
			h := &u.Items[i]
			if h.Kind != kind || damaged[u.Name+" "+h.Key] {
				continue
			}
			if w, ok := h.LastAcked(1 << 62); ok && w.Op == ledger.OpPut && len(h.PossibleFrom(1<<62)) == 1 {
				return u.Name, h.Key
			}
		}
	}
	d.t.Fatalf("%s: no user has an intact %s to damage (acknowledged %ss: %d): the load wrote none, or the server damaged all",
		d.tg.name, kind, kind, d.ackedByKind()[kind])
	return "", ""
}

// ackedPresent lists the keys of a user's items of kind whose acknowledged
// state at the end is present: what losing their collection loses.
func (d *drill) ackedPresent(user string, kind model.Kind) []string {
	var out []string
	for _, u := range d.hist.Users {
		if u.Name != user {
			continue
		}
		for i := range u.Items {
			h := &u.Items[i]
			if h.Kind == kind && !slices.ContainsFunc(h.PossibleFrom(1<<62), func(s ledger.State) bool { return !s.Present }) {
				out = append(out, h.Key)
			}
		}
	}
	return out
}

// plantAndCheck plants the three damages in three users' storage, observes
// again, and checks that the verifier names exactly those users and items on
// top of what the baseline found.
func (d *drill) plantAndCheck(res verify.Result, base map[problem]verify.ItemDetail) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pl := d.tg.planter(d.srv)
	uLost, kLost := d.pick(res, base, model.KindEvent)
	uChanged, kChanged := d.pick(res, base, model.KindContact, uLost)
	uBook, kBook := d.pick(res, base, model.KindContact, uLost, uChanged)
	name := func(key string) string { _, n, _ := model.SplitItemKey(key); return n }
	if err := pl.deleteItem(ctx, uLost, name(kLost)); err != nil {
		d.t.Fatalf("plant: delete %s of %s: %v", kLost, uLost, err)
	}
	if err := pl.changeContact(ctx, uChanged, name(kChanged)); err != nil {
		d.t.Fatalf("plant: change %s of %s: %v", kChanged, uChanged, err)
	}
	if err := pl.dropAddressBook(ctx, uBook, name(kBook)); err != nil {
		d.t.Fatalf("plant: drop the address book of %s: %v", uBook, err)
	}
	want := map[problem]bool{{uLost, "lost", kLost}: true, {uChanged, "changed", kChanged}: true}
	for _, k := range d.ackedPresent(uBook, model.KindContact) {
		if _, already := base[problem{uBook, "lost", k}]; !already {
			want[problem{uBook, "lost", k}] = true
		}
	}
	d.t.Logf("%s: planted: %s lost; %s changed; address book of %s dropped (%d contacts)",
		d.tg.name, kLost+" of "+uLost, kChanged+" of "+uChanged, uBook, len(d.ackedPresent(uBook, model.KindContact)))
	after := d.observe()
	got := problems(after)
	for _, p := range sortedProblems(got) {
		if _, inBase := base[p]; inBase {
			continue
		}
		if !want[p] {
			d.t.Errorf("after planting, the verifier reports %s (%s), which was not planted%s", p, got[p].Detail, diff(got[p]))
		}
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			d.t.Errorf("after planting, the verifier misses %s%s", p, d.otherwise(after, p))
		}
	}
	for p := range base {
		if p.user == uBook && strings.HasPrefix(p.key, "contact/") {
			// The dropped address book took this contact with it: what the
			// baseline called changed (a server defect) is lost now, and
			// wanted above as lost.
			continue
		}
		if _, ok := got[p]; !ok {
			d.t.Errorf("after planting, the baseline's %s is no longer reported", p)
		}
	}
	for _, u := range after.Users {
		if u.User == uBook && slices.Contains(u.NotCovered, model.KindContact.String()) {
			d.t.Errorf("%s's vanished address book makes its contacts \"not covered\"; they are LOST", uBook)
		}
	}
	if after.Status != verify.Fail {
		d.t.Errorf("after planting, the verdict is %s (%s), want fail", after.Status, after.Reason)
	}
}

// otherwise says how the verifier reported a missed problem's item instead.
func (d *drill) otherwise(res verify.Result, p problem) string {
	for _, u := range res.Users {
		if u.User != p.user {
			continue
		}
		kind, _, _ := model.SplitItemKey(p.key)
		if slices.Contains(u.NotCovered, kind.String()) {
			return fmt.Sprintf(" (the user's %ss are reported not covered)", kind)
		}
		return fmt.Sprintf(" (the user's verdict is %s %s)", u.Verdict, u.Reason)
	}
	return " (the user is not in the result)"
}

// diff shows how a changed item differs, when the verifier could say.
func diff(it verify.ItemDetail) string {
	if len(it.Diff) == 0 {
		return ""
	}
	return ":\n\t" + strings.Join(it.Diff, "\n\t")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
