package report

import (
	"fmt"
	"strings"

	"github.com/faultline-dev/faultline/results"
)

// CheckJUnit returns the JUnit XML of `faultline check`: one <testsuite> per checked scenario and
// one <testcase> per variant and objective, named "<variant>/<objective>" with classname
// "<scenario>.check.<variant>". A case fails when the objective regressed against the stored
// baseline (Finding.Worse); its system-out states the method, the paired figures and the verdict.
// The check's warnings (a changed digest, different seeds, a variant missing on one side) go to
// the suite's system-err, so a CI page shows why a comparison may not be like for like.
func CheckJUnit(baseline string, rep *results.CheckReport) ([]byte, error) {
	suite := junitSuite{Name: "check " + rep.Scenario, Properties: []junitProperty{
		{"scenario", rep.Scenario},
		{"baseline", baseline},
		{"alpha", fmt.Sprintf("%g", rep.Alpha)},
		{"regressed", fmt.Sprint(rep.Regressed())},
	}}
	if len(rep.Warnings) > 0 {
		suite.SystemErr = &cdata{xmlSafe("warning: " + strings.Join(rep.Warnings, "\nwarning: ") + "\n")}
	}
	for _, f := range rep.Findings {
		tc := junitCase{Name: f.Variant + "/" + f.Objective, Classname: rep.Scenario + ".check." + f.Variant}
		var out strings.Builder
		fmt.Fprintf(&out, "baseline mean %s [95%% CI %s, %s], this run %s; method %s", num(f.Baseline), num(f.Lo), num(f.Hi), num(f.Current), f.Method)
		if f.Note != "" {
			fmt.Fprintf(&out, ": %s", f.Note)
		}
		out.WriteString("\n")
		if f.Worse {
			msg := fmt.Sprintf("%s/%s regressed against %s: %s", f.Variant, f.Objective, baseline, f.Note)
			tc.Failure = &junitMsg{Message: xmlSafe(msg), Type: "Regression", Text: xmlSafe(out.String())}
			suite.Failures++
		} else {
			tc.SystemOut = &cdata{xmlSafe(out.String())}
		}
		suite.Cases = append(suite.Cases, tc)
		suite.Tests++
	}
	return encodeJUnit(junitSuites{Name: "faultline check " + rep.Scenario, Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}})
}
