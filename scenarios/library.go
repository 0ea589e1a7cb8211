package scenarios

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// library is the built-in incident library: every folder beside this file with a scenario.yaml.
//
//go:embed */*.yaml */README.md
var library embed.FS

// ScenarioFile is the file name a scenario folder holds.
const ScenarioFile = "scenario.yaml"

// Entry is one scenario of the built-in library.
type Entry struct {
	Name     string
	Summary  string // metadata.annotations["faultline.dev/summary"]
	Incident string // metadata.annotations["faultline.dev/incident"]
	Variants []string
}

// Library lists the built-in scenarios, sorted by name.
func Library() ([]Entry, error) {
	dirs, err := fs.ReadDir(library, ".")
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if _, err := fs.Stat(library, d.Name()+"/"+ScenarioFile); err != nil {
			continue
		}
		s, err := LoadFS(library, d.Name()+"/"+ScenarioFile, "scenarios/"+d.Name()+"/"+ScenarioFile)
		if err != nil {
			return nil, err
		}
		a := s.Spec.Metadata.Annotations
		out = append(out, Entry{Name: d.Name(), Summary: a["faultline.dev/summary"], Incident: a["faultline.dev/incident"], Variants: s.VariantNames()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ErrNotFound is returned by Open for a name that is neither a file nor a library scenario.
var ErrNotFound = errors.New("scenario not found")

// Open loads a scenario by path (a scenario file, or a folder holding scenario.yaml) or by the
// name of a built-in scenario. A path on disk wins over a library name, so a checkout's edited
// scenarios/NAME folder is what runs when invoked from the repository root.
func Open(nameOrPath string) (*Scenario, error) {
	return OpenContext(context.Background(), nameOrPath)
}

// OpenContext is Open that gives up when ctx is done (Ctrl-C while a large scenario loads),
// returning ctx's error.
func OpenContext(ctx context.Context, nameOrPath string) (*Scenario, error) {
	load := func(fsys fs.FS, file, display string) (*Scenario, error) {
		return loadFS(ctx, fsys, file, display)
	}
	if st, err := os.Stat(nameOrPath); err == nil {
		file := nameOrPath
		if st.IsDir() {
			file = filepath.Join(nameOrPath, ScenarioFile)
		}
		dir, base := filepath.Split(file)
		if dir == "" {
			dir = "."
		}
		return load(os.DirFS(dir), base, file)
	}
	if local := filepath.Join("scenarios", nameOrPath, ScenarioFile); fileExists(local) {
		return load(os.DirFS(filepath.Dir(local)), ScenarioFile, local)
	}
	name := strings.TrimSuffix(nameOrPath, "/")
	if _, err := fs.Stat(library, name+"/"+ScenarioFile); err == nil {
		return load(library, name+"/"+ScenarioFile, "scenarios/"+name+"/"+ScenarioFile)
	}
	var names []string
	if entries, err := Library(); err == nil {
		for _, e := range entries {
			names = append(names, e.Name)
		}
	}
	return nil, fmt.Errorf("%w: %q is not a file, a folder with %s, or a built-in scenario (%s)", ErrNotFound, nameOrPath, ScenarioFile, strings.Join(names, ", "))
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
