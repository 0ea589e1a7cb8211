package build

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The embedded recipes are copies of the tooling modules in tools/; `go generate` refreshes them.
func TestRecipesMatchTools(t *testing.T) {
	for _, m := range []string{"k8s", "etcd", "kwok", "prometheus"} {
		t.Run(m, func(t *testing.T) {
			dir := filepath.Join("..", "..", "..", "..", "tools", m)
			for _, f := range []string{"go.mod", "go.sum"} {
				want, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join("recipes", m+"."+f))
				require.NoError(t, err)
				assert.Truef(t, bytes.Equal(want, got), "recipes/%s.%s differs from tools/%s/%s: run go generate ./clusters/...", m, f, m, f)
			}
		})
	}
}

func TestRecipeVersionsArePinned(t *testing.T) {
	tests := []struct {
		r    Recipe
		want string
	}{
		{Kubernetes, "v1.34.4"},
		{Kubectl, "v1.34.4"},
		{Etcd, "v3.6.8"},
		{KWOK, "v0.8.0"},
		{Prometheus, engineVersion(t)},
	}
	for _, tt := range tests {
		t.Run(tt.r.Name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.Version())
			assert.Contains(t, tt.r.Key(), tt.r.Name+"-"+tt.want+"-")
		})
	}
	// every k8s.io staging module k8s.io/kubernetes requires at v0.0.0 is replaced by a release
	for _, line := range strings.Split(string(k8sMod), "\n") {
		if strings.Contains(line, "k8s.io/") && strings.HasSuffix(strings.TrimSpace(line), " v0.0.0") {
			t.Errorf("unreplaced staging module in tools/k8s/go.mod: %s", strings.TrimSpace(line))
		}
	}
	assert.Contains(t, Kubernetes.ldflags(), "-X k8s.io/component-base/version.gitVersion=v1.34.4")
	assert.Contains(t, Kubernetes.ldflags(), "-X k8s.io/component-base/version.gitMinor=34")
	assert.NotEqual(t, Kubernetes.Key(), Kubectl.Key())
}

func TestBuildEnv(t *testing.T) {
	env := buildEnv([]string{"PATH=/bin", "GOFLAGS=-buildvcs=false", "GOWORK=/x/go.work", "CGO_ENABLED=1"})
	assert.Contains(t, env, "PATH=/bin")
	assert.Contains(t, env, "GOFLAGS=-buildvcs=false -mod=mod")
	assert.Contains(t, env, "GOWORK=off")
	assert.Contains(t, env, "CGO_ENABLED=0")
	assert.NotContains(t, env, "CGO_ENABLED=1")
}

func TestCachedNeedsStampAndBinaries(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	r := Etcd
	assert.False(t, c.Cached(r))
	require.NoError(t, os.MkdirAll(c.BinDir(r), 0o755))
	require.NoError(t, os.WriteFile(c.Path(r, "etcd"), []byte("#!/bin/sh\n"), 0o755))
	assert.False(t, c.Cached(r), "a binary without the stamp is a build that did not finish")
	require.NoError(t, os.WriteFile(filepath.Join(c.BinDir(r), stampFile), []byte("{}"), 0o644))
	assert.True(t, c.Cached(r))
}

// engineVersion is the version of github.com/prometheus/prometheus faultline's own go.mod uses as
// its PromQL engine: the Prometheus server real runs scrape with is built at the same one, so
// both worlds evaluate PromQL with the same code.
func engineVersion(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "go.mod"))
	require.NoError(t, err)
	for _, m := range requireLine.FindAllSubmatch(b, -1) {
		if string(m[1]) == "github.com/prometheus/prometheus" {
			return string(m[2])
		}
	}
	t.Fatal("go.mod requires no github.com/prometheus/prometheus")
	return ""
}
