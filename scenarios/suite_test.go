package scenarios_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firedrill/firedrill/harness/drill"
	"github.com/firedrill/firedrill/harness/engine"
	"github.com/firedrill/firedrill/harness/report"
	"github.com/firedrill/firedrill/harness/stack"
	"github.com/firedrill/firedrill/harness/verify/matchers"
	"github.com/firedrill/firedrill/scenarios"
	"github.com/moby/moby/client"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "firedrill scenarios")
}

// seed is FIREDRILL_SEED when set (to replay a run), else Ginkgo's seed, so that
// `ginkgo --seed` replays too.
func seed() int64 {
	if s := os.Getenv("FIREDRILL_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "FIREDRILL_SEED=%q: want an integer", s)
		return n
	}
	return GinkgoRandomSeed()
}

// exampleDir holds the repository's scenario files; the suite runs them beside
// the built-in scenarios, and those of the directories $FIREDRILL_SCENARIOS
// names.
const exampleDir = "../examples/scenarios"

// all is every scenario the suite runs; a scenario file that does not load is
// reported by the spec below rather than breaking the tree.
var all, loadErr = scenarios.Load(scenarios.Dirs(os.Getenv(scenarios.DirsVar), exampleDir))

var _ = Describe("the scenario list", Label(scenarios.Smoke), func() {
	It("holds only valid scenarios with unique names, scenario files included", func() {
		Expect(loadErr).NotTo(HaveOccurred())
		seen := map[string]bool{}
		for _, sc := range all {
			Expect(sc.Validate()).To(Succeed())
			Expect(seen).NotTo(HaveKey(sc.Name), "scenario %s is listed twice", sc.Name)
			seen[sc.Name] = true
		}
	})
})

var _ = Describe("scenario", func() {
	for _, sc := range all {
		It(sc.Name, Label(sc.Labels...), func(ctx SpecContext) {
			skipWithoutDocker(ctx)
			s := seed()
			which := sc.Name
			if sc.Source != "" {
				which = strings.TrimPrefix(sc.Source, "../")
			}
			cmd := fmt.Sprintf("FIREDRILL_SEED=%d go run ./cmd/firedrill run %s", s, which)
			By(fmt.Sprintf("running %s with seed %d (replay: %s)", sc.Name, s, cmd))
			out, err := drill.Execute(ctx, sc, drill.Options{Seed: s, Reports: "../reports", Out: GinkgoWriter, Progress: GinkgoWriter, Command: cmd})
			if out != nil {
				AddReportEntry("report", out.Dir.HTMLPath())
				AddReportEntry("verdict", out.Report.Line(out.Dir.HTMLPath()))
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(out.Result).NotTo(BeNil())
			switch sc.Expect {
			case report.ExpectIntact:
				Expect(*out.Result).To(matchers.BeIntact())
				Expect(*out.Result).To(matchers.HaveLostNoAckedWrites())
			case report.ExpectLossDetected:
				Expect(*out.Result).To(matchers.DetectLoss())
			}
			Expect(out.Report.Verdict).To(Equal(report.Pass), out.Report.Reason)
		}, NodeTimeout(40*time.Minute),
			// A drill cleans up on every path, also when interrupted or out of
			// time: removing its containers and volumes can take minutes.
			GracePeriod(3*time.Minute))
	}
})

// skipWithoutDocker skips a scenario, saying why, when no Docker Engine answers:
// the suite then still checks the scenario list and files.
func skipWithoutDocker(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := engine.Client(cctx); errors.Is(err, engine.ErrUnreachable) {
		Skip("needs containers: " + err.Error())
	}
}

// Every scenario cleans up after itself: no container, network or volume that
// this process made remains.
var _ = AfterSuite(func() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := engine.Client(ctx)
	if errors.Is(err, engine.ErrUnreachable) {
		return // no Docker: no scenario ran, nothing can be left
	}
	Expect(err).NotTo(HaveOccurred())
	defer cli.Close()
	host, _ := os.Hostname()
	mine := make(client.Filters).Add("label", stack.LabelProject+"=true")
	ours := func(labels map[string]string) bool {
		return strings.HasPrefix(labels[stack.LabelOwner], fmt.Sprintf("%s/%d/", host, os.Getpid()))
	}
	var left []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: mine})
	Expect(err).NotTo(HaveOccurred())
	for _, c := range cs.Items {
		if ours(c.Labels) {
			left = append(left, "container "+c.Names[0])
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: mine})
	Expect(err).NotTo(HaveOccurred())
	for _, n := range ns.Items {
		if ours(n.Labels) {
			left = append(left, "network "+n.Name)
		}
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: mine})
	Expect(err).NotTo(HaveOccurred())
	for _, v := range vs.Items {
		if ours(v.Labels) {
			left = append(left, "volume "+v.Name)
		}
	}
	Expect(left).To(BeEmpty(), "the suite's runs left Docker objects behind")
})
