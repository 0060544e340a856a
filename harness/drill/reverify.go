package drill

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/firedrill/firedrill/harness/ledger"
	"github.com/firedrill/firedrill/harness/report"
)

// Reverify re-checks a saved run offline from its ledger, observation and
// verify input, refreshes the report's findings and verdict (the scenario gives
// the expectation and budgets; nil keeps the report's expectation and sets no
// budgets), and rewrites the run directory's report.json, index.html and
// junit.xml.
func Reverify(dir *report.RunDir, sc *Scenario) (*report.Report, error) {
	r, err := dir.Load()
	if err != nil {
		return nil, fmt.Errorf("load report: %w", err)
	}
	l, err := ledger.Load(dir.LedgerPath())
	if err != nil {
		return nil, fmt.Errorf("load ledger: %w", err)
	}
	var in VerifyInput
	if err := readJSON(dir.Path+"/"+VerifyInputFile, &in); err != nil {
		return nil, fmt.Errorf("load verify input (a run that ended before verification has none): %w", err)
	}
	b, err := savedCheck(dir, l)
	if err != nil {
		return nil, err
	}
	attr := &attribution{b: b, classes: map[string]int{}}
	res, err := checkSavedEach(l, dir.ObservationPath(), in, attr.add)
	if err != nil {
		return nil, err
	}
	if note := attr.note(); note != "" {
		res.Notes = append(res.Notes, note)
	}
	FillFromVerify(r, res, l)
	if sc == nil {
		sc = &Scenario{Name: r.Scenario, Expect: r.Expected}
	}
	r.Budgets = budgets(sc.Budgets, true, r)
	r.Verdict, r.Actual, r.Reason = judge(*sc, &res, nil, r)
	creditServer(r, attr.result())
	if err := dir.Write(r); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	return r, nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
