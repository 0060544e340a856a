package report

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// JUnitSuites is the root of junit.xml.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one run.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property"`
	Cases      []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is a name and value of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one scenario.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitProblem `xml:"failure,omitempty"`
	Error     *JUnitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitProblem is a failure or error element.
type JUnitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// junitUsers is how many damaged users a failure element names.
const junitUsers = 10

// JUnit returns r as a JUnit XML document: one testsuite for the run with one
// testcase for its scenario, a failure element when the verdict is fail and an
// error element when it is error, and the seed and replay command as properties.
func JUnit(r *Report) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("render junit: %w", err)
	}
	secs := strconv.FormatFloat(r.Duration().Seconds(), 'f', 3, 64)
	tc := JUnitCase{Name: r.Scenario, Classname: "firedrill.scenarios", Time: secs, SystemOut: r.Headline()}
	suite := JUnitSuite{Name: "firedrill " + r.Scenario, Tests: 1, Time: secs}
	if r.RunID != "" {
		suite.Name += " " + r.RunID
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	switch r.Verdict {
	case Fail:
		tc.Failure = &JUnitProblem{Message: oneLine(r.Reason), Type: r.Outcome(), Text: failureText(r)}
		suite.Failures = 1
	case Error:
		tc.Error = &JUnitProblem{Message: oneLine(r.Reason), Type: "error", Text: r.Reason}
		if r.Canary.Missed() > 0 {
			tc.Error.Type = "broken-verifier"
			tc.Error.Text += "\ncanary: " + canaryLine(r.Canary)
		}
		suite.Errors = 1
	}
	suite.Cases = []JUnitCase{tc}
	prop := func(name, value string) {
		suite.Properties = append(suite.Properties, JUnitProperty{Name: name, Value: value})
	}
	prop("seed", strconv.FormatInt(r.Seed, 10))
	prop("command", r.Command)
	prop("run_id", r.RunID)
	prop("profile", r.Profile)
	prop("expected", string(r.Expected))
	prop("actual", string(r.Actual))
	prop("verdict", string(r.Verdict))
	prop("users.total", strconv.Itoa(r.Users.Total))
	prop("users.damaged", strconv.Itoa(r.Users.Damaged))
	prop("users.intact", strconv.Itoa(r.Users.Intact))
	prop("users.not_covered", strconv.Itoa(r.Users.NotCovered))
	prop("users.rewritten", strconv.Itoa(r.Users.Rewritten))
	prop("items.moved", strconv.Itoa(r.Items.Moved))
	prop("items.duplicate", strconv.Itoa(r.Items.Duplicate))
	prop("items.rewritten", strconv.Itoa(r.Items.Rewritten))
	if c := r.Canary; c != nil {
		prop("canary.planted", strconv.Itoa(c.Planted))
		prop("canary.caught", strconv.Itoa(c.Caught))
	}
	for _, k := range r.Kinds {
		if !k.Covered {
			prop("not_covered."+k.Kind, k.Reason)
		}
	}
	prop("rpo.lost_acked_writes", strconv.Itoa(r.RPO.LostAckedWrites))
	prop("rto.seconds", strconv.FormatFloat(r.RTO.Seconds, 'f', 3, 64))
	prop("backup.strategy", r.Backup.Strategy)
	doc := JUnitSuites{
		Name: "firedrill", Tests: 1, Failures: suite.Failures, Errors: suite.Errors, Time: secs,
		Suites: []JUnitSuite{suite},
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// failureText explains a failure: the reason, what was found, and the first
// damaged users with their first items.
func failureText(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n%s\n", r.Reason, r.Outcome(), r.Headline())
	for _, bd := range r.Budgets {
		if !bd.Met {
			fmt.Fprintf(&b, "%s budget exceeded: %s > %s\n", budgetName(bd.Name), budgetValue(bd.Actual, bd.Unit), budgetValue(bd.Limit, bd.Unit))
		}
	}
	if c := r.Canary; c != nil {
		fmt.Fprintf(&b, "canary: %s\n", canaryLine(c))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	damaged := r.damagedVerdicts()
	if len(damaged) > 0 {
		b.WriteString("first damaged users:\n")
	}
	for i, u := range damaged {
		if i == junitUsers {
			fmt.Fprintf(&b, "  ... and %s more\n", commas(len(damaged)-i+r.MoreUserVerdicts))
			break
		}
		fmt.Fprintf(&b, "  %s: %s\n", u.User, userBrief(u, 3))
	}
	if r.Command != "" {
		fmt.Fprintf(&b, "replay: %s\n", r.Command)
	}
	return b.String()
}

// userBrief summarises a user's damage: "3 items: contact/a.vcf lost, photo/b.jpg changed, ...".
func userBrief(u UserVerdict, items int) string {
	n := len(u.Items) + u.MoreItems
	var parts []string
	for i, it := range u.Items {
		if i == items {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, it.Key+" "+it.Problem)
	}
	s := u.Status
	if n > 0 {
		s = plural(n, "item", "items") + ": " + strings.Join(parts, ", ")
	}
	if u.Reason != "" {
		s += " (" + u.Reason + ")"
	}
	return s
}

// oneLine squeezes s to a single line of at most 200 characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
