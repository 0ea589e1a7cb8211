package results

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// RunInfoFile is the name of the file that says how a run directory's scenario was made.
const RunInfoFile = "run.json"

// RunInfo is run.json: what another machine needs to make the same scenario again and replay a
// seed of it (the scenario's digest and the faultline version are in summary.json).
type RunInfo struct {
	Schema int `json:"schema"`
	// Source is the scenario as given to faultline run: a built-in name, a file or a folder.
	Source string `json:"source"`
	// Sets are the --set PATH=VALUE changes applied before the run, in order. They change the
	// scenario without changing its digest (the digest covers the files), so shards must agree
	// on them too.
	Sets []string `json:"sets,omitempty"`
}

// WriteRunInfo writes dir/run.json.
func WriteRunInfo(dir string, info RunInfo) error {
	info.Schema = SchemaVersion
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, RunInfoFile), append(b, '\n'))
}

// Shard is one run directory read back to be merged with others: its summary, how its scenario
// was made and its per-seed values.
type Shard struct {
	Dir     string
	Summary *Summary
	Info    RunInfo
	// rows[variant][seed] is the seeds.csv row of that run (indicator values in
	// Summary.Indicators order).
	rows map[string]map[uint64][]float64
}

// maxShardFile bounds what ReadShard reads of one file: a seeds.csv of 100,000 seeds × 4
// variants × 40 indicators is under 64 MiB.
const maxShardFile = 256 << 20

// ReadShard reads dir/summary.json, dir/run.json and dir/seeds.csv. Every error names the file
// and what was expected.
func ReadShard(dir string) (*Shard, error) {
	sh := &Shard{Dir: dir}
	read := func(name string) ([]byte, error) {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s is missing: %s is not a run directory of 'faultline run' (simulator runs write %s, summary.json and seeds.csv)", p, dir, RunInfoFile)
			}
			return nil, err
		}
		if st.Size() > maxShardFile {
			return nil, fmt.Errorf("%s: %d bytes, more than the %d a shard file may hold", p, st.Size(), maxShardFile)
		}
		return os.ReadFile(p)
	}
	raw, err := read("summary.json")
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "summary.json"), err)
	}
	if s.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: schema %d, this faultline merges schema %d", filepath.Join(dir, "summary.json"), s.Schema, SchemaVersion)
	}
	sh.Summary = &s
	if raw, err = read(RunInfoFile); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &sh.Info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RunInfoFile), err)
	}
	if sh.Info.Source == "" {
		return nil, fmt.Errorf("%s: source is empty; expected the scenario name or path", filepath.Join(dir, RunInfoFile))
	}
	if raw, err = read("seeds.csv"); err != nil {
		return nil, err
	}
	if err := sh.parseSeeds(raw); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "seeds.csv"), err)
	}
	return sh, nil
}

func (sh *Shard) parseSeeds(raw []byte) error {
	s := sh.Summary
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return err
	}
	want := append([]string{"variant", "seed"}, s.Indicators...)
	if len(recs) == 0 || !slices.Equal(recs[0], want) {
		return fmt.Errorf("header: expected %q (variant, seed and summary.json's indicators)", strings.Join(want, ","))
	}
	inRun := map[uint64]bool{}
	for _, seed := range s.Seeds {
		inRun[seed] = true
	}
	sh.rows = map[string]map[uint64][]float64{}
	for _, v := range s.Variants {
		sh.rows[v.Name] = map[uint64][]float64{}
	}
	for n, rec := range recs[1:] {
		line := n + 2
		rows, ok := sh.rows[rec[0]]
		if !ok {
			return fmt.Errorf("line %d: variant %q is not in summary.json", line, rec[0])
		}
		seed, err := strconv.ParseUint(rec[1], 10, 64)
		if err != nil || !inRun[seed] {
			return fmt.Errorf("line %d: seed %q: expected one of summary.json's seeds", line, rec[1])
		}
		if _, dup := rows[seed]; dup {
			return fmt.Errorf("line %d: variant %s seed %d appears twice", line, rec[0], seed)
		}
		vals := make([]float64, len(s.Indicators))
		for k := range vals {
			if vals[k], err = strconv.ParseFloat(rec[k+2], 64); err != nil {
				return fmt.Errorf("line %d column %s: %w", line, s.Indicators[k], err)
			}
		}
		rows[seed] = vals
	}
	for _, v := range s.Variants {
		if len(sh.rows[v.Name]) != v.Complete {
			return fmt.Errorf("variant %s has %d rows, summary.json says %d seeds finished", v.Name, len(sh.rows[v.Name]), v.Complete)
		}
	}
	return nil
}

// MergeOptions relax the checks Merge makes.
type MergeOptions struct {
	// AllowGaps accepts shards whose seeds leave holes (e.g. shard 2 of 4 is still missing).
	AllowGaps bool
	// AllowPartial accepts interrupted shards; the merged run is then marked interrupted.
	AllowPartial bool
}

// Merge puts shards of one run back together: the merged Input holds every seed of every shard
// in ascending seed order, as a single run of the same seeds would, so that Summarize and
// WriteDir give the same bytes. It refuses shards that ran a different scenario (name, digest,
// --set changes), faultline version, variant list, baseline, objectives or indicators, seeds
// that appear in two shards, and, unless opts say otherwise, gaps between the seeds and
// interrupted shards. The RunInfo is the first shard's (sorted by first seed).
func Merge(shards []*Shard, opts MergeOptions) (Input, RunInfo, error) {
	if len(shards) == 0 {
		return Input{}, RunInfo{}, errors.New("no shards to merge")
	}
	shards = slices.Clone(shards)
	for _, sh := range shards {
		if len(sh.Summary.Seeds) == 0 {
			return Input{}, RunInfo{}, fmt.Errorf("%s: summary.json lists no seeds", sh.Dir)
		}
	}
	slices.SortStableFunc(shards, func(a, b *Shard) int {
		return cmp.Compare(a.Summary.Seeds[0], b.Summary.Seeds[0])
	})
	first := shards[0]
	for _, sh := range shards[1:] {
		if err := agree(first, sh); err != nil {
			return Input{}, RunInfo{}, err
		}
	}
	owner := map[uint64]string{}
	var seeds []uint64
	interrupted := false
	for _, sh := range shards {
		if sh.Summary.Interrupted {
			if !opts.AllowPartial {
				return Input{}, RunInfo{}, fmt.Errorf("%s was interrupted (summary.json: interrupted true): rerun that shard, or merge anyway with --allow-partial", sh.Dir)
			}
			interrupted = true
		}
		for _, seed := range sh.Summary.Seeds {
			if d, dup := owner[seed]; dup {
				return Input{}, RunInfo{}, fmt.Errorf("seed %d is in both %s and %s: shards must not overlap", seed, d, sh.Dir)
			}
			owner[seed] = sh.Dir
			seeds = append(seeds, seed)
		}
	}
	slices.Sort(seeds)
	if !opts.AllowGaps {
		for i := 1; i < len(seeds); i++ {
			if seeds[i] != seeds[i-1]+1 {
				return Input{}, RunInfo{}, fmt.Errorf("seeds %d to %d are in no shard (the shards hold %d to %d): add the missing shard, or merge anyway with --allow-gaps", seeds[i-1]+1, seeds[i]-1, seeds[0], seeds[len(seeds)-1])
			}
		}
	}
	s := first.Summary
	in := Input{
		Scenario: s.Scenario, Digest: s.Digest, Version: s.Faultline, Baseline: s.Baseline,
		Seeds: seeds, Indicators: s.Indicators, Objectives: s.Objectives, Alpha: s.Alpha,
		Interrupted: interrupted,
	}
	for _, v := range s.Variants {
		in.Variants = append(in.Variants, v.Name)
	}
	in.Values = make([][][]float64, len(in.Variants))
	in.Done = make([][]bool, len(in.Variants))
	for v, name := range in.Variants {
		in.Values[v] = make([][]float64, len(seeds))
		in.Done[v] = make([]bool, len(seeds))
		for i, seed := range seeds {
			in.Values[v][i] = make([]float64, len(in.Indicators))
			for _, sh := range shards {
				if row, ok := sh.rows[name][seed]; ok {
					in.Values[v][i], in.Done[v][i] = row, true
					break
				}
			}
		}
	}
	return in, first.Info, nil
}

// agree checks that two shards ran the same thing.
func agree(a, b *Shard) error {
	sa, sb := a.Summary, b.Summary
	names := func(s *Summary) []string {
		var n []string
		for _, v := range s.Variants {
			n = append(n, v.Name)
		}
		return n
	}
	checks := []struct {
		what   string
		va, vb any
	}{
		{"scenario", sa.Scenario, sb.Scenario},
		// --set before the digest, which folds the --set changes in: name the cause, not the hash
		{"--set changes (run.json sets)", a.Info.Sets, b.Info.Sets},
		{"scenario digest", sa.Digest, sb.Digest},
		{"faultline version", sa.Faultline, sb.Faultline},
		{"variants", names(sa), names(sb)},
		{"baseline", sa.Baseline, sb.Baseline},
		{"alpha", sa.Alpha, sb.Alpha},
		{"indicators", sa.Indicators, sb.Indicators},
		{"objectives", sa.Objectives, sb.Objectives},
		{"bootstrap resamples", sa.Resamples, sb.Resamples},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.va, c.vb) && !(isEmpty(c.va) && isEmpty(c.vb)) {
			return fmt.Errorf("%s and %s ran different things: %s %s against %s; shards of one run must agree", a.Dir, b.Dir, c.what, show(c.va), show(c.vb))
		}
	}
	return nil
}

func isEmpty(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Slice && rv.Len() == 0
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Representative is the index in in.Seeds of variant v's representative seed: the finished seed
// whose value of indicator column k is MedianIndex among the variant's finished seeds, or -1 when
// none finished. A merge applies it to all shards' seeds together, since each shard's own median
// seed is only that shard's.
func Representative(in Input, v, k int) int {
	var vals []float64
	var idx []int
	for i, d := range in.Done[v] {
		if d {
			vals, idx = append(vals, in.Values[v][i][k]), append(idx, i)
		}
	}
	if len(vals) == 0 {
		return -1
	}
	return idx[MedianIndex(vals)]
}

// MedianIndex is the index of the value closest to the median of vals (ties: the earlier one).
// It is how faultline run picks the seed whose time series a report shows
// (runner.Outcome.KeepRepresentative), so a merge of shards picks the same one. vals must not be
// empty.
func MedianIndex(vals []float64) int {
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	med := (sorted[(len(sorted)-1)/2] + sorted[len(sorted)/2]) / 2
	best := 0
	for j := range vals {
		if math.Abs(vals[j]-med) < math.Abs(vals[best]-med) {
			best = j
		}
	}
	return best
}
