package report_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
)

func ptr(v float64) *float64 { return &v }

const oddName = `odd<i>&"name`

// synthetic builds a small run: a baseline that always misses the availability target and
// panics, a fix that always meets both, a partial fix that misses availability on a few seeds,
// and (when withLate) a variant that finished no seed. Objective "lost" has no target.
func synthetic(t *testing.T, withLate bool) (results.Input, *results.Summary, []results.Series) {
	t.Helper()
	const n = 12
	in := results.Input{
		Scenario: "synthetic-incident", Digest: "sha256:0123456789abcdef", Version: "test-1.2.3",
		Baseline: "baseline", Variants: []string{"baseline", "fix", oddName},
		Indicators: []string{"success", "panics", "lost"},
		Objectives: []results.Objective{
			{Name: "availability", Indicator: "success", Unit: "ratio", TargetOp: ">=", TargetValue: ptr(0.99), HigherIsBetter: true, Weight: 1},
			{Name: "panics", Indicator: "panics", Unit: "count", TargetOp: "<=", TargetValue: ptr(0), Weight: 1},
			{Name: "lost", Indicator: "lost", Unit: "count", Weight: 1},
		},
	}
	if withLate {
		in.Variants = append(in.Variants, "late")
		in.Interrupted = true
	}
	for i := range n {
		in.Seeds = append(in.Seeds, uint64(i+1))
	}
	for v, name := range in.Variants {
		vals := make([][]float64, n)
		done := make([]bool, n)
		for i := range n {
			f := float64(i%5) / 1000
			switch name {
			case "baseline":
				vals[i] = []float64{0.95 + f, float64(3 + i%4), float64(40 + i)}
			case "fix":
				vals[i] = []float64{0.995 + f/2, 0, float64(5 + i%3)}
			case oddName: // misses availability on seeds 1, 6, 11
				vals[i] = []float64{0.991 + f, 0, float64(10 + i%2)}
				if i%5 == 0 {
					vals[i][0] = 0.985
				}
			default: // late: finished 4 seeds, all good
				vals[i] = []float64{0.999, 0, 5}
			}
			done[i] = name != "late" || i < 4
		}
		_ = v
		in.Values = append(in.Values, vals)
		in.Done = append(in.Done, done)
	}
	s, err := results.Summarize(in)
	require.NoError(t, err)
	var series []results.Series
	for _, name := range in.Variants {
		if name == "late" {
			continue
		}
		se := results.Series{Variant: name, Seed: 1, Columns: []string{"hours", "success", "cpu/node-a", "cpu/node-b", "ready/deployment/web"}}
		for h := 0; h <= 48; h++ {
			succ := 1.0
			if name == "baseline" && h >= 10 && h < 14 {
				succ = 0.2
			}
			se.Rows = append(se.Rows, []float64{float64(h) / 2, succ, 0.3 + float64(h%7)/10, 0.5, 3})
		}
		series = append(series, se)
	}
	return in, s, series
}

func writeRun(t *testing.T, withLate bool) string {
	t.Helper()
	dir := t.TempDir()
	in, s, series := synthetic(t, withLate)
	require.NoError(t, results.WriteDir(dir, in, s, series))
	return dir
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestRenderWritesSelfContainedReports(t *testing.T) {
	dir := writeRun(t, false)
	require.NoError(t, report.Render(dir))
	for _, f := range report.Files {
		assert.FileExists(t, filepath.Join(dir, f))
	}

	html := read(t, filepath.Join(dir, "report.html"))
	// 3 objectives × (distribution + forest) + 3 time series
	assert.GreaterOrEqual(t, strings.Count(html, "<svg"), 9)
	assert.NotRegexp(t, regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//`), html)
	assert.NotContains(t, html, "<script")
	assert.NotContains(t, html, "<link")
	assert.NotContains(t, html, "url(")
	assert.NotContains(t, html, "<?xml", "SVG prolog must be stripped when inlined")
	for _, m := range regexp.MustCompile(`https?://[^"'\s)]*`).FindAllString(html, -1) {
		assert.Equal(t, "http://www.w3.org/2000/svg", m, "the only URL allowed is the SVG namespace")
	}
	for _, want := range []string{"synthetic-incident", "sha256:0123456789abcdef", "test-1.2.3", "1..12 (12 seeds)",
		"Objective availability", "Δ median vs baseline", "p (Holm)", "A12", "Resilience score", "How to read this", "seed 1"} {
		assert.Contains(t, html, want)
	}
	// the odd variant name is escaped everywhere: in the tables and in the SVG text
	assert.NotContains(t, html, oddName)
	assert.NotContains(t, html, "<i>&")
	assert.Contains(t, html, "odd&lt;i&gt;&amp;")

	md := read(t, filepath.Join(dir, "report.md"))
	for _, want := range []string{"# faultline report: synthetic-incident", "sha256:0123456789abcdef", "test-1.2.3", "1..12 (12 seeds)",
		"| interrupted | false |", "## Objective availability", "mean [95% CI]", "missed target [95% CI]", "p5 / p95",
		"Δ median vs baseline [95% CI]", "p (Holm)", "A12", "verdict", "## Resilience score", "## How to read this", "Wilcoxon", "Holm"} {
		assert.Contains(t, md, want)
	}
	assert.Contains(t, md, "**better**", "fix beats the baseline")
	assert.Contains(t, md, `odd&lt;i>&"name`, "markdown escapes what could open an HTML tag in names")
	assert.NotContains(t, md, "<i>")
}

type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
			Skipped   *struct{} `xml:"skipped"`
			SystemOut string    `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	var doc junitDoc
	require.NoError(t, xml.Unmarshal([]byte(read(t, path)), &doc))
	require.Len(t, doc.Suites, 1)
	return doc
}

func TestJUnitFailsWhenAnySeedMissesTheTarget(t *testing.T) {
	dir := writeRun(t, false)
	require.NoError(t, report.RenderWith(dir, report.Options{FailOn: report.FailAll}))
	doc := parseJUnit(t, filepath.Join(dir, "junit.xml"))
	suite := doc.Suites[0]
	assert.Equal(t, "synthetic-incident", suite.Name)
	assert.Equal(t, 9, suite.Tests) // 3 variants × 3 objectives
	var failed, skipped, passed []string
	for _, c := range suite.Cases {
		switch {
		case c.Failure != nil:
			failed = append(failed, c.Name)
		case c.Skipped != nil:
			skipped = append(skipped, c.Name)
		default:
			passed = append(passed, c.Name)
		}
	}
	sort.Strings(failed)
	assert.Equal(t, []string{"baseline/availability", "baseline/panics", oddName + "/availability"}, failed)
	assert.ElementsMatch(t, []string{"baseline/lost", "fix/lost", oddName + "/lost"}, skipped)
	assert.ElementsMatch(t, []string{"fix/availability", "fix/panics", oddName + "/panics"}, passed)
	assert.Equal(t, 3, suite.Failures)
	assert.Equal(t, 3, suite.Skipped)
	assert.Equal(t, 3, doc.Failures)

	for _, c := range suite.Cases {
		if c.Name == oddName+"/availability" {
			require.NotNil(t, c.Failure)
			// seeds 1, 6, 11 are below 0.99: 3 of 12 = 25 %
			assert.Contains(t, c.Failure.Message, "success >= 0.99")
			assert.Contains(t, c.Failure.Message, "3 of 12 seeds")
			assert.Contains(t, c.Failure.Message, "rate 25%")
			assert.Contains(t, c.Failure.Message, "95% CI")
			assert.Contains(t, c.Failure.Text, "verdict")
		}
	}
}

// The default policy does not fail the baseline (it reproduces the incident on purpose) but still
// says, in the case's output, that it missed; "none" fails nothing.
func TestJUnitPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy report.FailOn
		failed []string
	}{
		{"", []string{oddName + "/availability"}},
		{report.FailMitigations, []string{oddName + "/availability"}},
		{report.FailAll, []string{"baseline/availability", "baseline/panics", oddName + "/availability"}},
		{report.FailNone, nil},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			dir := writeRun(t, false)
			require.NoError(t, report.RenderWith(dir, report.Options{FailOn: tc.policy}))
			doc := parseJUnit(t, filepath.Join(dir, "junit.xml"))
			var failed []string
			for _, c := range doc.Suites[0].Cases {
				if c.Failure != nil {
					failed = append(failed, c.Name)
				}
				if c.Name == "baseline/availability" && c.Failure == nil {
					assert.Contains(t, c.SystemOut, "missed target >= 0.99 on 12 of 12 seeds")
				}
			}
			sort.Strings(failed)
			assert.Equal(t, tc.failed, failed)
			assert.Equal(t, len(tc.failed), doc.Failures)
		})
	}
	err := report.RenderWith(writeRun(t, false), report.Options{FailOn: "baseline"})
	assert.ErrorContains(t, err, `--junit-fail-on "baseline": expected mitigations, all or none`)
}

// junitAttrs are the attributes the JUnit XML schema CI systems read (Jenkins' junit-10.xsd, which
// GitLab and GitHub reporters follow) allows per element, restricted to what faultline writes.
var junitAttrs = map[string][]string{
	"testsuites": {"name", "tests", "failures", "errors", "time", "disabled"},
	"testsuite":  {"name", "tests", "failures", "errors", "time", "disabled", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url", "version"},
	"properties": {},
	"property":   {"name", "value"},
	"testcase":   {"name", "assertions", "time", "classname", "status"},
	"failure":    {"message", "type"},
	"error":      {"message", "type"},
	"skipped":    {"message"},
	"system-out": {},
	"system-err": {},
}

// junitRequired are the attributes the schema requires.
var junitRequired = map[string][]string{
	"testsuite": {"name", "tests"},
	"property":  {"name", "value"},
	"testcase":  {"name"},
}

func TestJUnitAttributesFollowTheSchema(t *testing.T) {
	for _, interrupted := range []bool{false, true} {
		dir := writeRun(t, interrupted)
		require.NoError(t, report.Render(dir))
		assertJUnitSchema(t, read(t, filepath.Join(dir, "junit.xml")))
	}
	// faultline check's JUnit, with a regression and a warning
	in, _, _ := synthetic(t, false)
	stored, err := results.Summarize(in)
	require.NoError(t, err)
	for i := range in.Values[1] {
		in.Values[1][i][0] -= 0.01
	}
	in.Sets = []string{"spec.duration=1h"}
	current, err := results.Summarize(in)
	require.NoError(t, err)
	rep := results.Check(stored, current)
	require.True(t, rep.Regressed())
	x, err := report.CheckJUnit("base.json", rep)
	require.NoError(t, err)
	assert.Contains(t, string(x), "<system-err>")
	assertJUnitSchema(t, string(x))
}

func assertJUnitSchema(t *testing.T, doc string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		allowed, known := junitAttrs[se.Name.Local]
		require.True(t, known, "element <%s> is not in the schema", se.Name.Local)
		have := map[string]bool{}
		for _, a := range se.Attr {
			assert.Contains(t, allowed, a.Name.Local, "<%s %s=...> is not in the schema", se.Name.Local, a.Name.Local)
			have[a.Name.Local] = true
		}
		for _, r := range junitRequired[se.Name.Local] {
			assert.True(t, have[r], "<%s> lacks the required %s", se.Name.Local, r)
		}
	}
}

func TestInterruptedRunRenders(t *testing.T) {
	dir := writeRun(t, true)
	require.NoError(t, report.Render(dir))
	doc := parseJUnit(t, filepath.Join(dir, "junit.xml"))
	assert.Equal(t, 13, doc.Suites[0].Tests, "4 variants × 3 objectives and the interrupted run")
	assert.Equal(t, 1, doc.Errors)
	var run []string
	for _, c := range doc.Suites[0].Cases {
		if c.Error != nil {
			run = append(run, c.Name+": "+c.Error.Message)
		}
	}
	assert.Equal(t, []string{"synthetic-incident/run: the run was interrupted: 40 of 48 replays finished; every figure covers only those"}, run)
	for _, c := range doc.Suites[0].Cases {
		if strings.HasPrefix(c.Name, "late/") {
			assert.Nil(t, c.Failure, "late met its targets on the 4 seeds it finished")
		}
	}
	md := read(t, filepath.Join(dir, "report.md"))
	assert.Contains(t, md, "| interrupted | true |")
	assert.Contains(t, md, "Incomplete run")
	assert.Contains(t, md, "late: 4 of 12 seeds")
	html := read(t, filepath.Join(dir, "report.html"))
	assert.Contains(t, html, "Incomplete run")
	assert.Contains(t, html, "late: 4 of 12 seeds")
}

// A variant that finished no seed cannot have its targets checked: its test cases are errors.
// (results.WriteDir cannot write such a summary today, its indicator means being NaN, so the test
// zeroes them.)
func TestVariantWithoutSeedsIsAJUnitError(t *testing.T) {
	in, _, series := synthetic(t, true)
	for i := range in.Done[3] {
		in.Done[3][i] = false
	}
	s, err := results.Summarize(in)
	require.NoError(t, err)
	for k := range s.Variants[3].Means {
		s.Variants[3].Means[k] = 0
	}
	dir := t.TempDir()
	require.NoError(t, results.WriteDir(dir, in, s, series))
	require.NoError(t, report.Render(dir))
	doc := parseJUnit(t, filepath.Join(dir, "junit.xml"))
	errs := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		if c.Error != nil {
			errs[c.Name] = c.Error.Message
		}
	}
	assert.Len(t, errs, 3, "late/availability and late/panics could not be checked; the run was interrupted")
	assert.Contains(t, errs["late/availability"], "no seed finished")
	assert.Contains(t, errs["synthetic-incident/run"], "interrupted")
	assert.Equal(t, 3, doc.Suites[0].Errors)
	md := read(t, filepath.Join(dir, "report.md"))
	assert.Contains(t, md, "late: 0 of 12 seeds")
	assert.Contains(t, md, "n/a (no common seeds)")
}

func TestRenderIsDeterministic(t *testing.T) {
	a := writeRun(t, false)
	b := writeRun(t, false)
	require.NoError(t, report.Render(a))
	first := map[string]string{}
	for _, f := range report.Files {
		first[f] = read(t, filepath.Join(a, f))
	}
	require.NoError(t, report.Render(a)) // again, in place (report files now present)
	require.NoError(t, report.Render(b)) // and in another directory
	for _, f := range report.Files {
		assert.Equal(t, first[f], read(t, filepath.Join(a, f)), "%s changed on re-render", f)
		assert.Equal(t, first[f], read(t, filepath.Join(b, f)), "%s differs between two directories", f)
	}
}

func TestLoadErrorsNameTheMissingFile(t *testing.T) {
	empty := t.TempDir()
	err := report.Render(empty)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(empty, "summary.json"))
	assert.Contains(t, err.Error(), "not a faultline run directory")

	dir := writeRun(t, false)
	require.NoError(t, os.Remove(filepath.Join(dir, "seeds.csv")))
	err = report.Render(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "seeds.csv")

	err = report.Render(filepath.Join(empty, "nope"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such directory")

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "summary.json"), []byte("{"), 0o644))
	err = report.Render(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "summary.json")
	for _, f := range report.Files {
		assert.NoFileExists(t, filepath.Join(bad, f), "nothing is written when the input is bad")
	}
}

func TestLoadPicksSeriesPerVariant(t *testing.T) {
	dir := writeRun(t, false)
	r, err := report.Load(dir)
	require.NoError(t, err)
	require.Len(t, r.Series, 3)
	assert.Equal(t, "baseline", r.Series[0].Variant)
	assert.Equal(t, oddName, r.Series[2].Variant, "series-odd_i___name-seed1.csv maps back to its variant")
	assert.Equal(t, uint64(1), r.Series[0].Seed)
	assert.Contains(t, r.Series[0].Why, "availability on this seed 0.95, variant median 0.9515; of the 12 seeds 0 scored lower and 9 higher")
	require.Len(t, r.PerSeed, 3)
	assert.Len(t, r.PerSeed[0][0], 12)
}
