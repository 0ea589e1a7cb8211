// Package docs_test checks that the repository stands alone: every reference in its code and docs
// leads to something in the repository.
package docs_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoFiles returns the text files of the repository (relative paths), skipping run outputs,
// caches and testdata that is input rather than prose.
func repoFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		if d.IsDir() {
			switch {
			case rel == ".git", rel == ".cache", rel == "bin", strings.HasPrefix(d.Name(), "run-"),
				strings.HasPrefix(d.Name(), "sweep-"), strings.HasPrefix(d.Name(), "fidelity-"):
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".go", ".md", ".yaml", ".yml", ".tmpl", ".sh":
			files = append(files, filepath.ToSlash(rel))
		default:
			if d.Name() == "Makefile" {
				files = append(files, rel)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", rel))
	require.NoError(t, err)
	return string(b)
}

// The project's notes outside the repository (the team's shared folder) must never be cited:
// a fresh clone does not have them.
func TestNoReferenceOutsideTheRepository(t *testing.T) {
	outside := regexp.MustCompile(`\.\./shared/|(^|[^/[:alnum:]])(INCIDENTS|K8S-FACTS|STYLE|DESIGN)(\.md)?([^[:alnum:]_-]|$)`)
	self := "docs/references_test.go"
	for _, f := range repoFiles(t) {
		if f == self {
			continue
		}
		for i, line := range strings.Split(read(t, f), "\n") {
			if outside.MatchString(line) {
				t.Errorf("%s:%d: cites a note outside the repository: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// `docs/upstream.md "Section"` in a comment names a heading that exists.
func TestUpstreamSectionsExist(t *testing.T) {
	headings := map[string]bool{}
	for _, line := range strings.Split(read(t, "docs/upstream.md"), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			headings[strings.TrimSpace(h)] = true
		}
	}
	// A section name may continue on the next comment line; join comment continuations first.
	ref := regexp.MustCompile(`docs/upstream\.md[^"\n]{0,3}"([^"]+)"`)
	cont := regexp.MustCompile(`\n\s*(//|#)\s*`)
	for _, f := range repoFiles(t) {
		if f == "docs/references_test.go" {
			continue
		}
		text := cont.ReplaceAllString(read(t, f), " ")
		for _, m := range ref.FindAllStringSubmatch(text, -1) {
			assert.Truef(t, headings[m[1]], "%s cites docs/upstream.md %q, which has no such section", f, m[1])
		}
	}
}

// Paths into the repository named in code and docs (scenario READMEs, docs pages) exist, and
// relative Markdown links resolve.
func TestReferencedFilesExist(t *testing.T) {
	pathRef := regexp.MustCompile(`\b((?:scenarios/[a-z0-9-]+|docs)/[A-Za-z0-9_.-]+\.md)\b`)
	mdLink := regexp.MustCompile(`\]\(([^)#: ]+)(#[^)]*)?\)`)
	for _, f := range repoFiles(t) {
		text := read(t, f)
		for _, m := range pathRef.FindAllStringSubmatch(text, -1) {
			_, err := os.Stat(filepath.Join("..", m[1]))
			assert.NoErrorf(t, err, "%s names %s", f, m[1])
		}
		if filepath.Ext(f) != ".md" {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := filepath.Join("..", filepath.Dir(f), m[1])
			_, err := os.Stat(target)
			assert.NoErrorf(t, err, "%s links to %s", f, m[1])
		}
	}
}
