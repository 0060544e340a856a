package rehearse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/fault"
	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/verify"
)

// Verdict is a rehearsal's answer.
type Verdict string

// The verdicts.
const (
	// Go: a proven backup outside what the procedure touches exists, the
	// procedure succeeded and every user is intact after it.
	Go Verdict = "go"
	// NoGo: the procedure failed, or damaged users, or not everything could
	// be verified; the proven restore is the way back.
	NoGo Verdict = "no-go"
	// Refused: no verified backup outside the storage the procedure touches;
	// the procedure was not run.
	Refused Verdict = "refused"
	// Error: the rehearsal could not reach a decision (Docker down, a stage
	// failed).
	Error Verdict = "error"
)

// Decision is what a rehearsal found, as saved in DecisionFile.
type Decision struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	RunDir  string  `json:"run_dir"`
	Seed    int64   `json:"seed"`
	// Damaged names the users not intact after the procedure (or, refused,
	// on the side stack).
	Damaged []string `json:"damaged,omitempty"`
	// RPO is the acknowledged writes the procedure lost (after it).
	RPO *verify.RPO `json:"rpo,omitempty"`
	// Procedure is what the procedure did; nil when it did not run.
	Procedure *fault.ProcedureOutcome `json:"procedure,omitempty"`
	// Phones is what the phones saw while the procedure ran.
	Phones *Phones `json:"phones,omitempty"`
	// Proof is the backup's proof; its RTO is the way back's.
	Proof *drill.Proof `json:"proof,omitempty"`
	// WayBack says, on no-go, how to get back: the proven restore.
	WayBack string `json:"way_back,omitempty"`
}

// Phones is what the phones saw from the moment the procedure started to the
// end of their load, from the ledger: every write attempt that ended then.
type Phones struct {
	Attempts  int `json:"attempts"`
	Acked     int `json:"acked"`
	Failed    int `json:"failed"`    // refused for sure
	Ambiguous int `json:"ambiguous"` // no certain answer: may or may not have happened
	// FailingFor is from the first failed or ambiguous attempt's start to the
	// last one's end: how long writes failed (0 when none did).
	FailingFor time.Duration `json:"failing_for_ns"`
	// LongestWithoutAck is the longest time without an acknowledged write,
	// from the procedure's start to the last attempt's end.
	LongestWithoutAck time.Duration `json:"longest_without_ack_ns"`
	// AckedAfterProof counts writes acknowledged after the backup was proven:
	// what restoring the proven backup would not bring back.
	AckedAfterProof int `json:"acked_after_proof"`
	// Watched is how much of the procedure the phones' load overlapped,
	// from the procedure's start to its end or to the last attempt's end,
	// whichever came first: a load that ended early saw only that part.
	Watched time.Duration `json:"watched_ns"`
}

// PhonesSaw measures what the phones saw of a procedure that ran from start
// to end (ledger times: ns since the ledger's base), from every attempt that
// ended at or after its start; proofPoint is the ledger time the backup was
// proven at.
func PhonesSaw(recs []ledger.Record, start, end, proofPoint int64) Phones {
	var p Phones
	var firstBad, lastBad int64 = -1, -1
	lastAck, last := start, start
	for _, r := range recs {
		if r.Outcome == ledger.OK && r.Call > proofPoint {
			p.AckedAfterProof++
		}
		if r.Return < start {
			continue
		}
		p.Attempts++
		last = max(last, r.Return)
		switch r.Outcome {
		case ledger.OK:
			p.Acked++
			continue
		case ledger.Failed:
			p.Failed++
		default:
			p.Ambiguous++
		}
		if firstBad < 0 || r.Call < firstBad {
			firstBad = r.Call
		}
		lastBad = max(lastBad, r.Return)
	}
	if firstBad >= 0 {
		p.FailingFor = time.Duration(lastBad - max(firstBad, start))
	}
	// The longest gap between acknowledgments, in return order.
	acks := []int64{}
	for _, r := range recs {
		if r.Return >= start && r.Outcome == ledger.OK {
			acks = append(acks, r.Return)
		}
	}
	slices.Sort(acks)
	for _, a := range acks {
		p.LongestWithoutAck = max(p.LongestWithoutAck, time.Duration(a-lastAck))
		lastAck = a
	}
	p.LongestWithoutAck = max(p.LongestWithoutAck, time.Duration(last-lastAck))
	p.Watched = time.Duration(max(0, min(end, last)-start))
	return p
}

// Decide turns a rehearsal run into a decision: refused when the proof step
// refused, error when the run stopped otherwise, no-go when the procedure
// failed or the migrated service is not every user intact (or could not be
// verified in full), go otherwise. It reads the procedure's outcome and the
// ledger from the run directory.
func Decide(out *drill.Outcome, runErr error) *Decision {
	d := &Decision{RunDir: out.Dir.Path, Proof: out.Proof}
	if out.Report != nil {
		d.Seed = out.Report.Seed
	}
	if o, err := fault.ReadProcedureOutcome(filepath.Join(out.Dir.Path, ProcedureDir)); err == nil {
		d.Procedure = &o
		if ph, err := phonesFromLedger(out.Dir.LedgerPath(), o.Started, o.Ended, out.Proof); err == nil {
			d.Phones = ph
		}
	}
	var refused *drill.RefusedError
	switch {
	case errors.As(runErr, &refused):
		d.Verdict, d.Reason = Refused, refused.Reason
		if out.Proof != nil {
			d.Damaged = out.Proof.Damaged
		}
		return d
	case runErr != nil:
		d.Verdict, d.Reason = Error, "no decision: "+runErr.Error()
		return d
	case !out.Proof.Proven():
		// Never a go without a proven backup, whatever happened after.
		d.Verdict, d.Reason = Refused, "the backup was not proven before the procedure ran"
		return d
	case d.Procedure == nil:
		d.Verdict, d.Reason = Error, "no decision: the procedure left no outcome in "+filepath.Join(out.Dir.Path, ProcedureDir)
		return d
	case out.Result == nil:
		d.Verdict, d.Reason = Error, "no decision: the migrated service was not verified"
		return d
	}
	res := out.Result
	d.RPO = &res.RPO
	for _, u := range res.Users {
		if u.Verdict != verify.Intact && u.Verdict != verify.Rewritten {
			d.Damaged = append(d.Damaged, u.User+" ("+string(u.Verdict)+")")
		}
	}
	var why []string
	if !d.Procedure.OK() {
		line := "the procedure failed: " + d.Procedure.Failure
		if d.Procedure.Tail != "" {
			line += "; its output ends:\n" + indent(d.Procedure.Tail)
		}
		why = append(why, line)
	}
	switch res.Status {
	case verify.Pass:
	case verify.Fail:
		line := fmt.Sprintf("after the procedure %s; damaged users: %s", res.Reason, strings.Join(firstN(d.Damaged, 20), ", "))
		if own := out.ServerOwn; own != nil && own.Same > 0 {
			// Only the users checked before the procedure can be told
			// apart: the others wrote while it ran.
			line += fmt.Sprintf(" (%d of the %d damaged items were damaged the same way at the check before the procedure: the server's own doing)", own.Same, own.After)
		}
		why = append(why, line)
	default:
		why = append(why, "after the procedure not every user could be verified, so it is not proven safe: "+res.Reason)
	}
	if len(why) == 0 {
		d.Verdict = Go
		d.Reason = fmt.Sprintf("the procedure succeeded in %s and %s; a proven backup outside what it touches exists (%s)",
			short(d.Procedure.Duration), res.Reason, out.Proof.Backup)
		return d
	}
	d.Verdict, d.Reason = NoGo, strings.Join(why, "; ")
	p := out.Proof
	d.WayBack = fmt.Sprintf("restore the proven backup %s from %s into a fresh stack: it took %s in the proof, with %s",
		p.Backup, volumeLine(p), short(p.RTO.Total), proofFound(p))
	if d.Phones != nil {
		d.WayBack += fmt.Sprintf("; it does not hold the %d writes acknowledged after it", d.Phones.AckedAfterProof)
	}
	return d
}

func volumeLine(p *drill.Proof) string {
	return fmt.Sprintf("volume %s (failure domain %s)", p.Volume.Name, p.Volume.Domain)
}

// phonesFromLedger measures what the phones saw from the saved ledger.
func phonesFromLedger(path string, started, ended time.Time, proof *drill.Proof) (*Phones, error) {
	l, err := ledger.Load(path)
	if err != nil {
		return nil, err
	}
	var recs []ledger.Record
	for _, r := range l.Records() {
		recs = append(recs, r)
	}
	point := int64(0)
	if proof != nil && proof.Result != nil {
		point = proof.Result.RecoveryPoint
	}
	p := PhonesSaw(recs, started.Sub(l.Base).Nanoseconds(), ended.Sub(l.Base).Nanoseconds(), point)
	return &p, nil
}

// short rounds a duration for people: to 10ms under a second, else to 100ms.
func short(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], fmt.Sprintf("and %d more", len(xs)-n))
	}
	return xs
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// proofFound says what the proof found on the side stack: its verdict, and,
// when the server had damaged some items itself before the backup, that the
// side stack holds them as the primary did.
func proofFound(p *drill.Proof) string {
	if p.ServerOwn != nil {
		return fmt.Sprintf("%s, every one of them damaged the same way on the primary at the check before the backup (the server's own doing, not the backup's)", p.Result.Reason)
	}
	return p.Result.Reason
}

// Save writes the decision as JSON.
func (d *Decision) Save(path string) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("encode decision: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save decision: %w", err)
	}
	return nil
}

// Write says the decision in plain lines: the verdict, why, and the figures.
func (d *Decision) Write(w io.Writer) {
	fmt.Fprintf(w, "rehearsal: %s\n  %s\n", strings.ToUpper(string(d.Verdict)), strings.ReplaceAll(d.Reason, "\n", "\n  "))
	if p := d.Proof; p != nil && p.Proven() {
		fmt.Fprintf(w, "  backup: %s on %s, proven: restored into a side stack in %s (RTO), %s\n", p.Backup, volumeLine(p), short(p.RTO.Total), proofFound(p))
	}
	if o := d.Procedure; o != nil {
		state := "succeeded"
		if !o.OK() {
			state = "failed: " + o.Failure
		}
		fmt.Fprintf(w, "  procedure: %s %s, took %s\n", o.Procedure, state, short(o.Duration))
	}
	if ph := d.Phones; ph != nil {
		fmt.Fprintf(w, "  phones during and after it: %d write attempts, %d acknowledged, %d refused, %d ambiguous; writes failed for %s; longest time without an acknowledged write %s\n",
			ph.Attempts, ph.Acked, ph.Failed, ph.Ambiguous, short(ph.FailingFor), short(ph.LongestWithoutAck))
		if o := d.Procedure; o != nil && ph.Watched < o.Duration {
			fmt.Fprintf(w, "  the phones' load overlapped only %s of the procedure's %s: what they saw is of that part (more users or a larger profile watch longer)\n",
				short(ph.Watched), short(o.Duration))
		}
	}
	if d.RPO != nil {
		fmt.Fprintf(w, "  RPO: %d acknowledged writes lost (%.3fs)\n", d.RPO.LostWrites, d.RPO.AgeSeconds)
	}
	if d.WayBack != "" {
		fmt.Fprintf(w, "  way back: %s\n", d.WayBack)
	}
	fmt.Fprintf(w, "  run directory: %s (%s)\n", d.RunDir, DecisionFile)
}
