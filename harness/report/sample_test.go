package report

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/timeline"
)

var sampleDir = flag.String("sample", "", "write a sample failing and passing report under this directory (TestWriteSample)")

// sampleStart is when the sample runs started.
var sampleStart = time.Date(2026, 3, 14, 2, 30, 0, 0, time.UTC)

// at returns the sample start plus s seconds.
func at(s float64) time.Time { return sampleStart.Add(time.Duration(s * float64(time.Second))) }

// sampleReport builds a realistic report of the Sidekick drill: 1,000 users, a
// botched SAN migration during load, five restore phases. When failing, three
// users come back damaged; otherwise every user is intact.
func sampleReport(failing bool) *Report {
	rng := rand.New(rand.NewPCG(42, 42))
	r := &Report{
		RunID:       NewRunID("sidekick-san-migration", 42, sampleStart),
		Scenario:    "sidekick-san-migration",
		Description: "A storage migration copies the database while it runs and flips bits; disaster is declared and the service is restored from the continuous backup into a fresh stack.",
		Labels:      []string{"migration", "nightly"},
		Profile:     "small",
		Seed:        42,
		Command:     "FIREDRILL_SEED=42 firedrill run sidekick-san-migration --profile small --seed 42",
		Server:      "syncd (reference)",
		Environment: map[string]string{"go": "go1.26.0", "docker": "20.10.24", "host": "go-docker (2 cores)"},
		Expected:    ExpectIntact,
		Started:     sampleStart,
		Finished:    at(212.4),
		Users:       UserCounts{Total: 1000, Intact: 1000},
		Items:       ItemCounts{Acked: 48213, Ambiguous: 312, Failed: 41},
		Backup:      Backup{Strategy: "continuous", Verified: true, Detail: "pg_basebackup with manifest at +0:05 on san-b, WAL streamed by pg_receivewal; pg_verifybackup passed"},
	}
	// Throughput: about 320 writes/s ramping up, collapsing while the SAN copy
	// runs, ambiguous writes spiking with the bit flips, nothing after the disaster.
	tp, _ := NewThroughput(sampleStart, time.Second)
	for s := 0.0; s < 150; s++ {
		base := 320 * math.Min(1, s/12)
		switch {
		case s >= 95 && s < 140:
			base *= 0.35
		case s >= 140:
			base *= 0.05
		}
		acked := int(base * (0.9 + 0.2*rng.Float64()))
		failed, amb := 0, 0
		if s >= 95 && s < 150 {
			failed = rng.IntN(6)
			amb = rng.IntN(4)
		}
		if s >= 120 && s < 124 {
			amb += 20 + rng.IntN(20)
		}
		tp.Add(at(s+0.5), acked, failed, amb)
	}
	r.Throughput = tp.Samples()
	tl := []timeline.Entry{
		{Category: timeline.Stage, Name: "load", Start: at(0), End: at(150)},
		{Category: timeline.Backup, Name: "base-backup", Target: "san-b", Start: at(5), End: at(19.6)},
		{Category: timeline.Fault, Name: "san-migration-copy", Target: "san-a", Start: at(95), End: at(140), Detail: "rsync of the data directory while PostgreSQL runs"},
		{Category: timeline.Fault, Name: "bit-flip", Target: "san-a", Start: at(120), End: at(123.5), Detail: "64 bits flipped in relation files"},
		{Category: timeline.Stage, Name: "disaster declared", Start: at(150), End: at(151)},
		{Category: timeline.Restore, Name: "provision", Target: "san-c", Start: at(151), End: at(153.2), Detail: "new network and volumes"},
		{Category: timeline.Restore, Name: "fetch base backup", Target: "san-b", Start: at(153.2), End: at(164.9)},
		{Category: timeline.Restore, Name: "replay WAL", Start: at(164.9), End: at(183.1), Detail: "to the end of the archived WAL"},
		{Category: timeline.Restore, Name: "promote", Start: at(183.1), End: at(184.4)},
		{Category: timeline.Restore, Name: "start syncd", Start: at(184.4), End: at(192.3), Detail: "ready on /healthz"},
		{Category: timeline.Stage, Name: "verify", Start: at(192.3), End: at(212)},
	}
	r.SetTimeline(tl)
	r.Budgets = []Budget{
		NewBudget("rpo", "acked writes", 0, 0),
		NewBudget("rto", "s", 300, r.RTO.Seconds),
	}
	for i := range 3 {
		r.UserVerdicts = append(r.UserVerdicts, UserVerdict{User: fmt.Sprintf("user%04d@example.org", 10+i*7), Status: StatusIntact})
	}
	if !failing {
		r.Verdict, r.Actual = Pass, ExpectIntact
		return r
	}
	r.Verdict, r.Actual = Fail, ExpectLossDetected
	r.Reason = "3 users damaged after restore from the continuous backup: WAL segment 000000010000000000000007 was missing from the archive"
	dig := func() string {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return fmt.Sprintf("%x", b)
	}
	var lostItems []ItemProblem
	for i := range 14 {
		key := fmt.Sprintf("contact/%08x.vcf", rng.Uint32())
		lostItems = append(lostItems, ItemProblem{Kind: "contact", Key: key, Problem: ProblemLost,
			Expected: []Version{{Digest: dig(), Size: int64(600 + rng.IntN(900))}}, AckedAt: at(90 + float64(i)),
			Detail: []string{"not on the server after restore"}})
	}
	r.UserVerdicts = append(r.UserVerdicts,
		UserVerdict{User: "zoë.lindqvist@example.org", Status: StatusDamaged, Items: append(lostItems,
			ItemProblem{Kind: "photo", Key: "photo/IMG_0042.jpg", Problem: ProblemChanged,
				Expected: []Version{{Digest: dig(), Size: 2_413_207}}, Got: &Version{Digest: dig(), Size: 2_413_207}, AckedAt: at(31.2),
				Detail: []string{"1 byte differs at offset 1,048,576 (0x3f -> 0x3e)"}})},
		UserVerdict{User: "user0815@example.org", Status: StatusDamaged, Items: []ItemProblem{
			{Kind: "event", Key: "event/dentist-2009-10-12.ics", Problem: ProblemChanged,
				Expected: []Version{{Digest: dig(), Size: 912}, {Digest: dig(), Size: 930}}, Got: &Version{Digest: dig(), Size: 905}, AckedAt: at(71.9),
				Detail: []string{"its last write was ambiguous: either version would do", "DTSTART: expected 20091012T090000 (Europe/Berlin), got 20091012T080000Z"}},
			{Kind: "appdata", Key: "appdata/tetris/highscores.json", Problem: ProblemLost,
				Expected: []Version{{Digest: dig(), Size: 418}}, AckedAt: at(44)},
			{Kind: "note", Key: "note/shopping.ics", Problem: ProblemResurrected,
				Got: &Version{Digest: dig(), Size: 233}, AckedAt: at(124.2), Detail: []string{"the delete was acknowledged; the item is back after restore"}},
		}},
		UserVerdict{User: "danger.hiptop.fan@example.org", Status: StatusUnreadable, Reason: "PROPFIND /dav/calendars/danger.hiptop.fan@example.org/ answered 500 Internal Server Error: invalid page in block 4711 of relation base/16384/16402",
			Items: []ItemProblem{{Kind: "event", Key: "event/launch-party.ics", Problem: ProblemUnreadable,
				Expected: []Version{{Digest: dig(), Size: 1204}}, Detail: []string{"calendar listing failed"}}}},
	)
	r.SortUserVerdicts()
	r.Users.Intact, r.Users.Damaged = 997, 3
	r.Items.Lost, r.Items.Changed, r.Items.Resurrected, r.Items.Unreadable = 15, 2, 1, 1
	r.RPO = RPO{LostAckedWrites: 17, Seconds: 12.4}
	r.Budgets[0] = NewBudget("rpo", "acked writes", 0, 17)
	return r
}

// sampleLossReport builds the Sidekick drill with the backup on the same SAN:
// the whole SAN is lost, every user comes back empty, and the loss is expected.
func sampleLossReport() *Report {
	rng := rand.New(rand.NewPCG(7, 7))
	r := sampleReport(false)
	r.Scenario = "sidekick-backup-on-same-san"
	r.RunID = NewRunID(r.Scenario, 42, sampleStart)
	r.Description = "The only backup is a dump on the same SAN as the database; the SAN is lost."
	r.Command = "FIREDRILL_SEED=42 firedrill run sidekick-backup-on-same-san --profile small --seed 42"
	r.Expected, r.Actual, r.Verdict = ExpectLossDetected, ExpectLossDetected, Pass
	r.Backup = Backup{Strategy: "dump-same-volume", Detail: "pg_dump to /var/lib/postgresql/dumps on san-a"}
	r.RTO.Seconds = 0
	r.SetTimeline([]timeline.Entry{
		{Category: timeline.Stage, Name: "load", Start: at(0), End: at(150)},
		{Category: timeline.Fault, Name: "lose-failure-domain", Target: "san-a", Start: at(140), End: at(141)},
		{Category: timeline.Restore, Name: "provision", Start: at(151), End: at(153)},
		{Category: timeline.Restore, Name: "restore dump", Start: at(153), End: at(153.4), Detail: "no dump found: the volume is gone"},
		{Category: timeline.Restore, Name: "start syncd", Start: at(153.4), End: at(160)},
	})
	r.Budgets = nil
	r.UserVerdicts = nil
	for u := range 1000 {
		v := UserVerdict{User: fmt.Sprintf("user%04d@example.org", u), Status: StatusDamaged}
		for range 40 + rng.IntN(17) {
			k := []string{"contact", "event", "todo", "note", "photo", "appdata"}[rng.IntN(6)]
			v.Items = append(v.Items, ItemProblem{Kind: k, Key: fmt.Sprintf("%s/%08x", k, rng.Uint32()), Problem: ProblemLost,
				Expected: []Version{{Digest: fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()), Size: int64(300 + rng.IntN(5000))}}})
		}
		r.Items.Lost += len(v.Items)
		r.UserVerdicts = append(r.UserVerdicts, v)
	}
	r.SortUserVerdicts()
	r.Users = UserCounts{Total: 1000, Damaged: 1000}
	r.RPO = RPO{LostAckedWrites: r.Items.Acked, Seconds: 150}
	return r
}

// TestWriteSample writes sample run directories (a pass, an expected loss, a
// million-user run, a broken verifier and a failure; the failure is the
// latest) for looking at the page, e.g.
//
//	go test -run TestWriteSample ./harness/report -sample=/tmp/sample
//
// then open /tmp/sample/latest/index.html.
func TestWriteSample(t *testing.T) {
	if *sampleDir == "" {
		t.Skip("pass -sample=DIR to write sample reports")
	}
	broken := sampleMillionReport()
	broken.Canary, broken.Verdict, broken.Actual = sampleCanary("moved"), Error, FoundUnknown
	broken.Reason = "the verifier could not decide: the verifier is broken, its verdicts cannot be trusted"
	for i, r := range []*Report{sampleReport(false), sampleLossReport(), sampleMillionReport(), broken, sampleReport(true)} {
		id := r.RunID + []string{"-pass", "-loss", "-million", "-broken", "-fail"}[i]
		d, err := NewRunDir(*sampleDir, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.LogsDir(), "postgres.log"), []byte("LOG:  database system is ready\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := d.Write(r); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", d.HTMLPath())
		t.Log(r.Line(d.HTMLPath()))
	}
}
