package shard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/faultline-dev/faultline/results"
	"github.com/faultline-dev/faultline/results/report"
	"github.com/faultline-dev/faultline/scenarios"
	"github.com/faultline-dev/faultline/scenarios/runner"
	"github.com/faultline-dev/faultline/sim"
)

// OpenFunc makes a run's scenario again from run.json: its source and its --set changes.
type OpenFunc func(source string, sets []string) (*scenarios.Scenario, error)

// MergeConfig says which shard directories to merge into which run directory.
type MergeConfig struct {
	Dirs []string
	Out  string
	results.MergeOptions
	// Version is this faultline's version: the representative seeds are replayed here, and a
	// replay is only the same run under the same version.
	Version string
	// Source, when set, replaces run.json's source for opening the scenario (a shard made on
	// another machine names a path that may not exist here). The digest must still match.
	Source string
	Open   OpenFunc
}

// Merge merges shard run directories into cfg.Out, a run directory with the same bytes as one
// `faultline run` over all their seeds: summary.json and seeds.csv from every shard's per-seed
// values (results.Merge checks that the shards agree), run.json, and the time series and
// metrics of each variant's representative seed over all seeds, which no shard has in general,
// so it is replayed here and checked against the shard's values. Reports are rendered last.
func Merge(cfg MergeConfig) (*results.Summary, error) {
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("no shard directories to merge")
	}
	if cfg.Out == "" {
		return nil, errors.New("no output directory (--out)")
	}
	for _, d := range cfg.Dirs {
		if filepath.Clean(d) == filepath.Clean(cfg.Out) {
			return nil, fmt.Errorf("--out %s is one of the shards: merge into a new directory", cfg.Out)
		}
	}
	shards := make([]*results.Shard, 0, len(cfg.Dirs))
	for _, d := range cfg.Dirs {
		sh, err := results.ReadShard(d)
		if err != nil {
			return nil, err
		}
		shards = append(shards, sh)
	}
	in, info, err := results.Merge(shards, cfg.MergeOptions)
	if err != nil {
		return nil, err
	}
	if in.Version != cfg.Version {
		return nil, fmt.Errorf("the shards were made by faultline %s and this is faultline %s: merge with the same version (the representative seeds are replayed, and only the same version replays the same run)", in.Version, cfg.Version)
	}
	if cfg.Source != "" {
		info.Source = cfg.Source
	}
	sc, err := cfg.Open(info.Source, info.Sets)
	if err != nil {
		return nil, fmt.Errorf("scenario %s of the shards (run.json source; --scenario names another place): %w", info.Source, err)
	}
	// summary.json's digest folds the --set changes into the scenario's own digest
	if sc.Name() != in.Scenario || results.FoldSets(sc.Digest, info.Sets) != in.Digest {
		return nil, fmt.Errorf("scenario %s here is %s %s, the shards ran %s %s: pass --scenario with the shards' scenario files", info.Source, sc.Name(), sc.Digest, in.Scenario, in.Digest)
	}
	in.Digest, in.Sets = sc.Digest, info.Sets // Summarize folds them again, as run does
	series, metrics, firings, err := replayRepresentatives(sc, in)
	if err != nil {
		return nil, err
	}
	if metrics, err = results.LabelMetrics(sc.Name(), metrics); err != nil {
		return nil, err
	}
	sum, err := results.Summarize(in)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	if err := results.WriteDir(cfg.Out, in, sum, series); err != nil {
		return nil, fmt.Errorf("write %s: %w", cfg.Out, err)
	}
	if err := results.WriteMetrics(cfg.Out, metrics); err != nil {
		return nil, fmt.Errorf("write %s: %w", cfg.Out, err)
	}
	if err := results.WriteRunInfo(cfg.Out, info); err != nil {
		return nil, fmt.Errorf("write %s: %w", cfg.Out, err)
	}
	if firings != nil { // as run writes it: the representative seeds' alert timelines
		if err := report.WriteAlerts(cfg.Out, firings); err != nil {
			return nil, fmt.Errorf("write %s: %w", cfg.Out, err)
		}
	}
	if err := report.Render(cfg.Out); err != nil {
		return sum, fmt.Errorf("render the report in %s: %w", cfg.Out, err)
	}
	return sum, nil
}

// replayRepresentatives replays what faultline run keeps of one seed per variant: with
// objectives, the seed closest to the median of the first objective, with its time series and
// metrics; without, the first seed's metrics. Each replay must give the values the shard
// recorded for that seed, else the shard did not come from this scenario and version.
func replayRepresentatives(sc *scenarios.Scenario, in results.Input) ([]results.Series, []results.MetricsText, []report.AlertFiring, error) {
	var series []results.Series
	var metrics []results.MetricsText
	var firings []report.AlertFiring
	if len(sc.Alerts) > 0 {
		firings = []report.AlertFiring{} // a run with rule files writes alerts.json, empty or not
	}
	k := -1
	if len(in.Objectives) > 0 {
		k = slices.Index(in.Indicators, in.Objectives[0].Indicator)
	}
	for v, name := range in.Variants {
		i := 0
		if k >= 0 {
			i = results.Representative(in, v, k)
		}
		if i < 0 || !in.Done[v][i] {
			continue
		}
		vr, err := sc.Variant(name)
		if err != nil {
			return nil, nil, nil, err
		}
		seed := in.Seeds[i]
		cin := sc.Compile(vr)
		r, tls, err := runner.RunSeed(cin, sc.PromQL(cin), seed, sim.Options{Series: k >= 0}) // with the PromQL indicators
		if err != nil {
			return nil, nil, nil, fmt.Errorf("replay variant %s seed %d: %w", name, seed, err)
		}
		for c, ind := range in.Indicators {
			got, ok := r.Get(ind)
			if !ok {
				got = 0 // a column another variant reports: seeds.csv holds 0 here too
			}
			if want := in.Values[v][i][c]; got != want && !(got != got && want != want) {
				return nil, nil, nil, fmt.Errorf("replay variant %s seed %d: %s is %v here and %v in the shard: the shard was not made by this scenario and faultline", name, seed, ind, got, want)
			}
		}
		if r.Series != nil && k >= 0 {
			series = append(series, results.Series{Variant: name, Seed: seed, Columns: r.Series.Columns, Rows: r.Series.Rows})
		}
		if len(r.Metrics) > 0 {
			metrics = append(metrics, results.MetricsText{Variant: name, Seed: seed, Text: r.Metrics})
		}
		if firings != nil {
			firings = append(firings, runner.Firings(name, seed, tls)...)
		}
	}
	return series, metrics, firings, nil
}
