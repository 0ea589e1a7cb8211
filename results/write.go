package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Series is one sampled time series for a report.
type Series struct {
	Variant string
	Seed    uint64
	Columns []string
	Rows    [][]float64
}

// WriteDir writes summary.json, seeds.csv and one series-<variant>.csv per series into dir,
// creating it. Files are written whole to a temporary name and renamed, so an interrupted write
// never leaves a truncated file behind.
func WriteDir(dir string, in Input, s *Summary, series []Series) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "summary.json"), append(js, '\n')); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "seeds.csv"), SeedsCSV(in)); err != nil {
		return err
	}
	// a rerun into the same directory must not leave another run's series for the report to find
	old, _ := filepath.Glob(filepath.Join(dir, "series-*.csv"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	for _, se := range series {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		_ = w.Write(se.Columns)
		for _, row := range se.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = strconv.FormatFloat(v, 'g', 6, 64)
			}
			_ = w.Write(rec)
		}
		w.Flush()
		name := fmt.Sprintf("series-%s-seed%d.csv", safeName(se.Variant), se.Seed)
		if err := writeAtomic(filepath.Join(dir, name), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// SeedsCSV is the per-seed table: one row per (variant, seed) that finished.
func SeedsCSV(in Input) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(append([]string{"variant", "seed"}, in.Indicators...))
	for v, name := range in.Variants {
		for i, seed := range in.Seeds {
			if !in.Done[v][i] {
				continue
			}
			rec := []string{name, strconv.FormatUint(seed, 10)}
			for _, x := range in.Values[v][i] {
				rec = append(rec, strconv.FormatFloat(x, 'g', -1, 64))
			}
			_ = w.Write(rec)
		}
	}
	w.Flush()
	return b.Bytes()
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// MetricsText is one run's Prometheus metrics in OpenMetrics text form.
type MetricsText struct {
	Variant string
	Seed    uint64
	Text    []byte
}

// WriteMetrics writes metrics-<variant>-seed<N>.txt (OpenMetrics text) per entry into dir.
func WriteMetrics(dir string, ms []MetricsText) error {
	for _, m := range ms {
		name := fmt.Sprintf("metrics-%s-seed%d.txt", safeName(m.Variant), m.Seed)
		if err := writeAtomic(filepath.Join(dir, name), m.Text); err != nil {
			return err
		}
	}
	return nil
}
