package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AlertsFile is the alert timeline of each variant's representative seed, written by a run of a
// scenario with rule files.
const AlertsFile = "alerts.json"

// AlertFiring is one interval in which an alert fired for one label set, in a run's virtual time.
type AlertFiring struct {
	Variant string            `json:"variant"`
	Seed    uint64            `json:"seed"`
	Alert   string            `json:"alert"`
	Labels  map[string]string `json:"labels,omitempty"`
	From    time.Duration     `json:"fromNanos"`
	To      time.Duration     `json:"toNanos"`
	Open    bool              `json:"open,omitempty"` // still firing at the end of the run
}

// WriteAlerts writes AlertsFile into dir.
func WriteAlerts(dir string, fs []AlertFiring) error {
	if fs == nil {
		fs = []AlertFiring{}
	}
	b, err := json.MarshalIndent(fs, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, AlertsFile), append(b, '\n'))
}

func loadAlerts(dir string) ([]AlertFiring, bool, error) {
	p := filepath.Join(dir, AlertsFile)
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var out []AlertFiring
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, false, fmt.Errorf("%s: %w", p, err)
	}
	return out, true, nil
}

// alertRow is one firing as the reports show it.
type alertRow struct {
	Variant, Alert, Labels, From, To string
	Seed                             uint64
}

func alertRows(fs []AlertFiring) []alertRow {
	var rows []alertRow
	for _, f := range fs {
		var ls []string
		for k, v := range f.Labels {
			ls = append(ls, k+"="+strconv.Quote(v))
		}
		slices.Sort(ls)
		to := clock(f.To)
		if f.Open {
			to = "still firing at the end"
		}
		rows = append(rows, alertRow{Variant: f.Variant, Seed: f.Seed, Alert: f.Alert, Labels: strings.Join(ls, ", "), From: clock(f.From), To: to})
	}
	return rows
}

// clock is a virtual time as h:mm:ss from the run's start.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
