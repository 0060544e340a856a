package scenarios_test

import (
	"fmt"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/scenarios"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The Sidekick drill on DAViCal, a stack firedrill did not write: the
// verdict must be honest about DAViCal's own defects (docs/compatibility.md).
// DAViCal answers 201 to a WebDAV file PUT and rolls it back (D1), so the app
// data the phones were told was stored is gone before any fault, and the
// verdict cannot be intact. What the drill proves is that the restore from
// the continuous backup brought back everything DAViCal had kept: every
// damaged item at the end was damaged the same way at the check before the
// migration. A restore that lost anything DAViCal held fails this spec.
var _ = Describe("sidekick-san-migration on stack davical", Label(scenarios.Smoke, scenarios.Migration), func() {
	It("names DAViCal's own losses as its own, and the restore adds none", func(ctx SpecContext) {
		skipWithoutDocker(ctx)
		sc, err := scenarios.Resolve("sidekick-san-migration", nil)
		Expect(err).NotTo(HaveOccurred())
		s := seed()
		cmd := fmt.Sprintf("go run ./cmd/firedrill run sidekick-san-migration --stack davical --profile tiny --seed %d", s)
		By("running " + cmd)
		out, err := drill.Execute(ctx, sc, drill.Options{Seed: s, Stack: "davical", Profile: "tiny", Reports: "../reports",
			Out: GinkgoWriter, Progress: GinkgoWriter, Command: cmd})
		if out != nil {
			AddReportEntry("verdict", out.Report.Line(out.Dir.HTMLPath()))
		}
		Expect(err).NotTo(HaveOccurred())
		Expect(out.Report.Server).To(ContainSubstring("davical"))
		Expect(out.Report.Backup.Verified).To(BeTrue(), "the restore from the continuous backup did not happen: %s", out.Report.Backup.Detail)

		Expect(out.ServerOwn).NotTo(BeNil(), "no check step before the fault")
		own := *out.ServerOwn
		Expect(own.Complete).To(BeTrue(), "item lists were cut short: the attribution would be partial")
		Expect(own.Before).To(BeNumerically(">", 0), "DAViCal kept every acknowledged write before any fault: D1 no longer reproduces; update docs/compatibility.md")
		Expect(own.Same).To(Equal(own.After), "damage that was not there before the migration: the restore lost what DAViCal had kept")
		Expect(out.Report.Notes).To(ContainElement(ContainSubstring("the server's own doing")))

		Expect(out.Result).NotTo(BeNil())
		Expect(out.Result.Counts.Lost).To(BeNumerically(">", 0))
		Expect(out.Report.Verdict).To(Equal(report.Fail), "acknowledged writes DAViCal lost must fail an intact expectation, whoever lost them")
		Expect(out.Report.Reason).To(ContainSubstring("already so at the check before any fault"))

		By("re-verifying the run offline, as firedrill report does: the check is set against the verification again")
		again, err := drill.Reverify(out.Dir, &sc)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Verdict).To(Equal(report.Fail))
		Expect(again.Reason).To(ContainSubstring("already so at the check before any fault"))
		Expect(again.Notes).To(ContainElement(ContainSubstring("the server's own doing")))
	}, NodeTimeout(20*time.Minute), GracePeriod(3*time.Minute))
})
