package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrOutNotEmpty is returned by Stage for a folder that already holds files, unless told to
// overwrite it.
var ErrOutNotEmpty = errors.New("the folder exists and is not empty")

// Staged is a results folder being written. Everything goes into Dir, a new hidden sibling of the
// final folder; Publish renames it into place whole, so a reader (or a run killed at any point)
// sees the old folder or the new one, never a mix, and two runs never share a folder.
type Staged struct {
	// Dir is where the files are written until Publish.
	Dir       string
	final     string
	overwrite bool
	unique    bool
	published bool
	keep      bool
}

// Stage prepares the results folder final. With unique (a default name, such as one made of the
// time), a name another run took meanwhile is not reused: Publish picks final-2, final-3, ...
// Otherwise Publish refuses a final folder that holds files (check it before a long run with
// CheckOut), unless overwrite, which replaces it whole.
func Stage(final string, overwrite, unique bool) (*Staged, error) {
	parent := filepath.Dir(final)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".tmp-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	return &Staged{Dir: tmp, final: final, overwrite: overwrite, unique: unique}, nil
}

// CheckOut fails with ErrOutNotEmpty when dir exists and holds anything (or is not a folder),
// unless overwrite: the check a run makes before it starts.
func CheckOut(dir string, overwrite bool) error {
	if overwrite {
		return nil
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s: %w (%d entries); choose another --out or add --overwrite to replace it", dir, ErrOutNotEmpty, len(entries))
	}
	return nil
}

// Publish moves the staged folder into place and returns where it went.
func (st *Staged) Publish() (string, error) {
	if st.unique {
		for i := 1; i <= 1000; i++ {
			name := st.final
			if i > 1 {
				name = st.final + "-" + strconv.Itoa(i)
			}
			// rename onto an existing folder fails (os.Rename checks, and rename(2) itself
			// refuses a non-empty one): two runs that publish at once take different names
			if err := os.Rename(st.Dir, name); err == nil {
				st.published = true
				return name, nil
			} else if !errors.Is(err, fs.ErrExist) && !errors.Is(err, os.ErrExist) && !isNotEmpty(err) {
				return "", err
			}
		}
		st.keep = true
		return "", fmt.Errorf("%s: no free name after 1000 tries; the results stay in %s", st.final, st.Dir)
	}
	if st.overwrite {
		// move the old folder aside first: a kill between the renames leaves the old folder
		// aside or the new one in place, whole either way
		old, err := os.MkdirTemp(filepath.Dir(st.final), "."+filepath.Base(st.final)+".old-")
		if err != nil {
			return "", err
		}
		if err := os.Rename(st.final, filepath.Join(old, "dir")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = os.RemoveAll(old)
			return "", err
		}
		defer os.RemoveAll(old)
	}
	// os.Rename refuses any existing folder as the target; an empty one is taken (rmdir removes
	// only an empty folder, so files that appeared meanwhile are never lost)
	_ = syscall.Rmdir(st.final)
	if err := os.Rename(st.Dir, st.final); err != nil {
		st.keep = true // the results are whole; say where they are instead of losing them
		if isNotEmpty(err) || errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s: %w (written meanwhile); the results stay in %s", st.final, ErrOutNotEmpty, st.Dir)
		}
		return "", fmt.Errorf("%w; the results stay in %s", err, st.Dir)
	}
	st.published = true
	return st.final, nil
}

// Discard removes the staged folder unless it was published or kept by a failed Publish; it is
// meant for a defer.
func (st *Staged) Discard() {
	if !st.published && !st.keep {
		_ = os.RemoveAll(st.Dir)
	}
}

func isNotEmpty(err error) bool { return errors.Is(err, syscall.ENOTEMPTY) }

// SetLatest points the symbolic link latest (beside dir) at dir, replacing it atomically.
func SetLatest(dir string) error {
	link := filepath.Join(filepath.Dir(dir), "latest")
	tmp := fmt.Sprintf("%s.tmp-%d", link, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(dir), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

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
