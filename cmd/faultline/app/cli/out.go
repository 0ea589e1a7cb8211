package cli

import (
	"github.com/spf13/pflag"

	"path/filepath"
	"time"

	"github.com/faultline-dev/faultline/results"
)

// OutFolder is a command's results folder as the user gave it: --out and --overwrite.
type OutFolder struct {
	Out       string
	Overwrite bool
}

// Check refuses an --out that already holds files (unless --overwrite): the check a command
// makes before its long work, so that nothing computed is lost to a folder it may not write.
func (o OutFolder) Check() error {
	if o.Out == "" {
		return nil
	}
	return results.CheckOut(o.Out, o.Overwrite)
}

// Stage prepares the folder: --out, or results/<scenario>/<prefix><UTC second> by default, a
// unique name (commands started in the same second publish -2, -3, ...). Everything is written
// into the staged folder and appears whole when it is published, never mixed with another
// command's files.
func (o OutFolder) Stage(scenario, prefix string, now time.Time) (*results.Staged, error) {
	if o.Out != "" {
		return results.Stage(o.Out, o.Overwrite, false)
	}
	dir := filepath.Join("results", scenario, prefix+now.UTC().Format("20060102T150405Z"))
	return results.Stage(dir, false, true)
}

// AddFlags registers --out and --overwrite for a command whose default folder is
// results/<scenario>/<prefix><UTC time>.
func (o *OutFolder) AddFlags(fl *pflag.FlagSet, prefix string) {
	fl.StringVar(&o.Out, "out", "", "output directory (default results/<scenario>/"+prefix+"<UTC time>, unique per command); written whole, refused if it holds files unless --overwrite")
	fl.BoolVar(&o.Overwrite, "overwrite", false, "replace a non-empty --out folder whole (the old files are deleted once the new ones are in place)")
}
