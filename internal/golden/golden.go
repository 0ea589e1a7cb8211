// Package golden compares a test's output with a checked-in file and rewrites the file instead
// when the test binary runs with -update. It is the one golden-file helper of the repository: a
// test package that imports it gets the -update flag, and `make golden` runs exactly the
// packages that import it (so no test binary is handed a flag it does not define).
//
// Review a rewritten file as a diff: it is the expected behaviour, changed on purpose.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// update is registered in every test binary that imports this package.
var update = flag.Bool("update", false, "rewrite golden files in testdata/ instead of comparing (review the diff)")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Check compares got with the file at path; with -update it writes got there instead. A
// difference fails the test with the first differing line, numbered as in the file.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run `make golden` to create it, then review it)", path, err)
	}
	if d := Diff(want, got); d != "" {
		t.Fatalf("output differs from %s: %s\n(if the change is deliberate: `make golden` and review the diff)", path, d)
	}
}

// Diff describes the first difference between want and got by line, or returns "" when they
// are equal.
func Diff(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) && i < len(g); i++ {
		if w[i] != g[i] {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + w[i] + "\n  got: " + g[i]
		}
	}
	return "want " + strconv.Itoa(len(w)) + " lines, got " + strconv.Itoa(len(g))
}
