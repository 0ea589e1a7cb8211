package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
)

// FailOn is the JUnit policy: which variants' missed targets fail their test cases.
type FailOn string

// The JUnit policies (--junit-fail-on).
const (
	// FailMitigations fails the test cases of every variant except the baseline: a library
	// scenario's baseline reproduces the incident on purpose, so its missed targets are expected
	// and reported without failing. The default.
	FailMitigations FailOn = "mitigations"
	// FailAll fails every variant's missed targets, the baseline's included.
	FailAll FailOn = "all"
	// FailNone fails nothing on targets; an interrupted run and a variant without data are still
	// errors.
	FailNone FailOn = "none"
)

// ParseFailOn parses a --junit-fail-on value ("" is the default, mitigations).
func ParseFailOn(s string) (FailOn, error) {
	switch f := FailOn(s); f {
	case "":
		return FailMitigations, nil
	case FailMitigations, FailAll, FailNone:
		return f, nil
	}
	return "", fmt.Errorf("--junit-fail-on %q: expected mitigations, all or none", s)
}

// fails reports whether a missed target of variant fails its test case under the policy.
func (f FailOn) fails(variant, baseline string) bool {
	switch f {
	case FailAll:
		return true
	case FailNone:
		return false
	}
	return variant != baseline
}

// The elements and attributes follow the JUnit XML schema that Jenkins, GitLab and most CI
// systems read (testsuites: name, tests, failures, errors, time; testsuite: name, tests,
// failures, errors, skipped, time; testcase: name, classname, time); junit_test.go checks that
// nothing else is written.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemErr  *cdata          `xml:"system-err,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Failure   *junitMsg `xml:"failure,omitempty"`
	Error     *junitMsg `xml:"error,omitempty"`
	Skipped   *junitMsg `xml:"skipped,omitempty"`
	SystemOut *cdata    `xml:"system-out,omitempty"`
}

type cdata struct {
	Text string `xml:",cdata"`
}

type junitMsg struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

// xmlSafe replaces the characters XML 1.0 cannot carry (most control characters) with U+FFFD:
// CDATA sections, unlike escaped text, would otherwise pass them through.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF):
			return '\uFFFD'
		}
		return r
	}, s)
}

// JUnit returns junit.xml: one <testsuite> for the run's scenario and one <testcase> per variant
// and objective, named "<variant>/<objective>", under the policy r.FailOn (see the package
// documentation for when a case fails). An interrupted run adds the test case "<scenario>/run"
// as an error, so a CI system never reads a partial run as a normal one.
func (r *Run) JUnit() ([]byte, error) {
	s := r.Summary
	policy, err := ParseFailOn(string(r.FailOn))
	if err != nil {
		return nil, err
	}
	suite := junitSuite{Name: s.Scenario, Properties: []junitProperty{
		{"scenario", s.Scenario},
		{"digest", s.Digest},
		{"faultline", s.Faultline},
		{"baseline", s.Baseline},
		{"seeds", fmt.Sprint(len(s.Seeds))},
		{"seed-range", seedSpan(s.Seeds)},
		{"alpha", fmt.Sprintf("%g", s.Alpha)},
		{"interrupted", fmt.Sprint(s.Interrupted)},
		{"junit-fail-on", string(policy)},
	}}
	for i, set := range s.Sets {
		suite.Properties = append(suite.Properties, junitProperty{fmt.Sprintf("set.%d", i+1), set})
	}
	if s.Interrupted {
		done := 0
		for _, vs := range s.Variants {
			done += vs.Complete
		}
		msg := fmt.Sprintf("the run was interrupted: %d of %d replays finished; every figure covers only those", done, len(s.Seeds)*len(s.Variants))
		suite.Cases = append(suite.Cases, junitCase{Name: s.Scenario + "/run", Classname: s.Scenario, Error: &junitMsg{Message: msg, Type: "Interrupted"}})
		suite.Tests++
		suite.Errors++
	}
	for _, vs := range s.Variants {
		for oi, o := range s.Objectives {
			os := vs.Objectives[oi]
			tc := junitCase{Name: vs.Name + "/" + o.Name, Classname: s.Scenario + "." + vs.Name}
			var out strings.Builder
			fmt.Fprintf(&out, "objective %s: indicator %s", o.Name, o.Indicator)
			if o.Unit != "" {
				fmt.Fprintf(&out, " (%s)", o.Unit)
			}
			if t := o.Target(); t != "" {
				fmt.Fprintf(&out, ", target %s", t)
			}
			fmt.Fprintf(&out, ", %s\n", direction(o))
			fmt.Fprintf(&out, "seeds finished: %d of %d\n", vs.Complete, len(s.Seeds))
			if vs.Complete > 0 {
				fmt.Fprintf(&out, "mean %s [95%% CI %s, %s], median %s, p5 %s, p95 %s\n", num(os.Mean), num(os.MeanCI.Lo), num(os.MeanCI.Hi), num(os.Median), num(os.P5), num(os.P95))
			}
			if c := os.Comparison; c != nil {
				fmt.Fprintf(&out, "vs the baseline %q over %d paired seeds: median difference %s [95%% CI %s, %s], p (Holm) %s, A12 %.2f, verdict: %s\n",
					s.Baseline, c.Pairs, signed(c.MedianDiff), signed(c.MedianDiffCI.Lo), signed(c.MedianDiffCI.Hi), pval(c.PHolm), c.A12, c.VerdictText())
			}
			vi := os.Violations
			switch {
			case o.TargetValue == nil:
				tc.Skipped = &junitMsg{Message: "objective " + o.Name + " has no target: nothing to check"}
				suite.Skipped++
			case vi == nil || vs.Complete == 0:
				tc.Error = &junitMsg{Message: fmt.Sprintf("no seed finished: target %s could not be checked", o.Target()), Type: "NoData"}
				suite.Errors++
			case vi.Count > 0 && !policy.fails(vs.Name, s.Baseline):
				fmt.Fprintf(&out, "missed target %s on %d of %d seeds: rate %s (95%% CI %s to %s); not a failure under --junit-fail-on %s",
					o.Target(), vi.Count, vs.Complete, pct(vi.Rate), pct(vi.CI.Lo), pct(vi.CI.Hi), policy)
				if vs.Name == s.Baseline && policy == FailMitigations {
					out.WriteString(" (the baseline reproduces the incident on purpose)")
				}
				out.WriteString("\n")
			case vi.Count > 0:
				msg := fmt.Sprintf("missed target %s %s on %d of %d seeds: rate %s (95%% CI %s to %s)",
					o.Indicator, o.Target(), vi.Count, vs.Complete, pct(vi.Rate), pct(vi.CI.Lo), pct(vi.CI.Hi))
				tc.Failure = &junitMsg{Message: msg, Type: "TargetMissed", Text: xmlSafe(msg + "\n" + out.String())}
				suite.Failures++
			default:
				fmt.Fprintf(&out, "met target %s on all %d seeds (missed rate 0%%, 95%% CI %s to %s)\n", o.Target(), vs.Complete, pct(vi.CI.Lo), pct(vi.CI.Hi))
			}
			if tc.Failure == nil {
				tc.SystemOut = &cdata{xmlSafe(out.String())}
			}
			suite.Cases = append(suite.Cases, tc)
			suite.Tests++
		}
	}
	return encodeJUnit(junitSuites{Name: "faultline " + s.Scenario, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Suites: []junitSuite{suite}})
}

// encodeJUnit writes the document with its XML header, indented.
func encodeJUnit(root junitSuites) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}
