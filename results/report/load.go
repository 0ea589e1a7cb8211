package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/results"
)

// Run is a loaded run directory: the summary and the per-seed values and time series the
// report plots.
type Run struct {
	// Dir is the run directory Load read.
	Dir string
	// Summary is summary.json.
	Summary *results.Summary
	// PerSeed[v][o] holds variant Summary.Variants[v]'s value of objective Summary.Objectives[o]
	// for every seed that variant finished, in seeds.csv order (seed order).
	PerSeed [][][]SeedValue
	// FailOn is the JUnit policy junit.xml is written under ("": FailMitigations).
	FailOn FailOn
	// Series holds the representative time series of each variant that has one, in
	// Summary.Variants order (see Load for how the seed is picked).
	Series []Series
	// Alerts is the alert timeline of the representative seeds (alerts.json); HasAlerts says
	// whether the run evaluated rule files at all.
	Alerts    []AlertFiring
	HasAlerts bool
}

// SeedValue is one seed's value of one objective.
type SeedValue struct {
	Seed  uint64
	Value float64
}

// Series is one variant's representative time series, from series-<variant>-seed<N>.csv.
type Series struct {
	Variant string
	Seed    uint64
	File    string // base name
	Columns []string
	Rows    [][]float64
	// Why says how representative the seed is, e.g. "availability 0.966, the median seed of 50".
	Why string
}

// Load reads dir/summary.json, dir/seeds.csv and dir/series-*.csv. Every error names the file
// concerned; a directory without summary.json is reported as not being a run directory.
//
// When a variant has several series files, the representative one is the seed whose value of the
// first objective is closest to that variant's median (ties: the lowest seed).
func Load(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such directory", dir)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory (expected a faultline run directory)", dir)
	}
	sumPath := filepath.Join(dir, "summary.json")
	raw, err := os.ReadFile(sumPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a faultline run directory: %s is missing (write one with 'faultline run --out %s')", dir, sumPath, dir)
		}
		return nil, err
	}
	var s results.Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", sumPath, err)
	}
	if s.Schema != results.SchemaVersion {
		return nil, fmt.Errorf("%s: schema %d, this faultline reads schema %d", sumPath, s.Schema, results.SchemaVersion)
	}
	if err := checkSummary(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", sumPath, err)
	}
	r := &Run{Dir: dir, Summary: &s}

	seedsPath := filepath.Join(dir, "seeds.csv")
	raw, err = os.ReadFile(seedsPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a complete faultline run directory: %s is missing", dir, seedsPath)
		}
		return nil, err
	}
	if r.PerSeed, err = parseSeeds(&s, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", seedsPath, err)
	}
	if r.Alerts, r.HasAlerts, err = loadAlerts(dir); err != nil {
		return nil, err
	}
	if r.Series, err = loadSeries(dir, r); err != nil {
		return nil, err
	}
	return r, nil
}

func checkSummary(s *results.Summary) error {
	if len(s.Variants) == 0 {
		return errors.New("no variants")
	}
	seen := map[string]bool{}
	for _, v := range s.Variants {
		if seen[v.Name] {
			return fmt.Errorf("variant %q appears twice", v.Name)
		}
		seen[v.Name] = true
		if len(v.Objectives) != len(s.Objectives) {
			return fmt.Errorf("variant %q has %d objectives, the summary lists %d", v.Name, len(v.Objectives), len(s.Objectives))
		}
	}
	if !seen[s.Baseline] {
		return fmt.Errorf("baseline %q is not among the variants", s.Baseline)
	}
	return nil
}

func parseSeeds(s *results.Summary, raw []byte) ([][][]SeedValue, error) {
	rd := csv.NewReader(bytes.NewReader(raw))
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 || len(recs[0]) < 2 || recs[0][0] != "variant" || recs[0][1] != "seed" {
		return nil, errors.New(`expected a header starting with "variant,seed"`)
	}
	col := map[string]int{}
	for i, n := range recs[0] {
		col[n] = i
	}
	objCol := make([]int, len(s.Objectives))
	for o, ob := range s.Objectives {
		c, ok := col[ob.Indicator]
		if !ok {
			return nil, fmt.Errorf("no column %q (objective %s)", ob.Indicator, ob.Name)
		}
		objCol[o] = c
	}
	vidx := map[string]int{}
	for v, vs := range s.Variants {
		vidx[vs.Name] = v
	}
	out := make([][][]SeedValue, len(s.Variants))
	for v := range out {
		out[v] = make([][]SeedValue, len(s.Objectives))
	}
	for line, rec := range recs[1:] {
		v, ok := vidx[rec[0]]
		if !ok {
			return nil, fmt.Errorf("line %d: variant %q is not in summary.json", line+2, rec[0])
		}
		seed, err := strconv.ParseUint(rec[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: seed %q: %w", line+2, rec[1], err)
		}
		for o, c := range objCol {
			x, err := strconv.ParseFloat(rec[c], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d column %s: %w", line+2, recs[0][c], err)
			}
			out[v][o] = append(out[v][o], SeedValue{seed, x})
		}
	}
	return out, nil
}

// safeName is results' file-name mapping of a variant name (results.WriteDir).
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

func loadSeries(dir string, r *Run) ([]Series, error) {
	files, err := filepath.Glob(filepath.Join(dir, "series-*.csv"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Series
	for v, vs := range r.Summary.Variants {
		prefix := "series-" + safeName(vs.Name) + "-seed"
		var seeds []uint64
		byseed := map[uint64]string{}
		for _, f := range files {
			base := filepath.Base(f)
			if !strings.HasPrefix(base, prefix) || !strings.HasSuffix(base, ".csv") {
				continue
			}
			num := strings.TrimSuffix(strings.TrimPrefix(base, prefix), ".csv")
			seed, err := strconv.ParseUint(num, 10, 64)
			if err != nil || strconv.FormatUint(seed, 10) != num {
				continue // another variant's file (a name with "-seed" in it) or not ours
			}
			seeds = append(seeds, seed)
			byseed[seed] = f
		}
		if len(seeds) == 0 {
			continue
		}
		sort.Slice(seeds, func(a, b int) bool { return seeds[a] < seeds[b] })
		seed, why := representative(r, v, seeds)
		path := byseed[seed]
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		cols, rows, err := parseSeries(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, Series{Variant: vs.Name, Seed: seed, File: filepath.Base(path), Columns: cols, Rows: rows, Why: why})
	}
	return out, nil
}

// representative picks, among the seeds with a series, the one whose first objective is closest
// to the variant's median, and says where it stands.
func representative(r *Run, v int, seeds []uint64) (uint64, string) {
	if len(r.Summary.Objectives) == 0 || len(r.PerSeed[v][0]) == 0 {
		return seeds[0], ""
	}
	ob := r.Summary.Objectives[0]
	vals := r.PerSeed[v][0]
	med := r.Summary.Variants[v].Objectives[0].Median
	val := map[uint64]float64{}
	for _, sv := range vals {
		val[sv.Seed] = sv.Value
	}
	best, bestD := seeds[0], math.Inf(1)
	for _, s := range seeds {
		x, ok := val[s]
		if !ok {
			continue
		}
		if d := math.Abs(x - med); d < bestD {
			best, bestD = s, d
		}
	}
	x, ok := val[best]
	if !ok {
		return best, ""
	}
	below, above := 0, 0
	for _, sv := range vals {
		switch {
		case sv.Value < x:
			below++
		case sv.Value > x:
			above++
		}
	}
	return best, fmt.Sprintf("%s on this seed %s, variant median %s; of the %d seeds %d scored lower and %d higher", ob.Name, num(x), num(med), len(vals), below, above)
}

func parseSeries(raw []byte) ([]string, [][]float64, error) {
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 || len(recs[0]) == 0 || recs[0][0] != "hours" {
		return nil, nil, errors.New(`expected a header starting with "hours"`)
	}
	rows := make([][]float64, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		row := make([]float64, len(rec))
		for k, f := range rec {
			x, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d column %s: %w", i+2, recs[0][k], err)
			}
			row[k] = x
		}
		rows = append(rows, row)
	}
	return recs[0], rows, nil
}
