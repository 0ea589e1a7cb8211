package kind

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStaticImageTar(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "faultline-echo")
	cmd := exec.Command("go", "build", "-o", bin, "./internal/cmd/faultline-echo")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))

	layer, err := StaticImageTar(bin)
	require.NoError(t, err)
	tr := tar.NewReader(bytes.NewReader(layer))
	got := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got[h.Name] = h.Mode
		if h.Name == "faultline-echo" {
			b, _ := io.ReadAll(tr)
			want, _ := os.ReadFile(bin)
			assert.Equal(t, want, b)
		}
	}
	assert.Equal(t, map[string]int64{"etc/": 0o755, "tmp/": 0o1777, "etc/passwd": 0o644, "faultline-echo": 0o755}, got)

	t.Run("a dynamically linked program is refused", func(t *testing.T) {
		sh, err := exec.LookPath("sh")
		if err != nil {
			t.Skip("no sh to try with")
		}
		_, err = StaticImageTar(sh)
		assert.ErrorContains(t, err, "dynamically linked")
	})
	t.Run("not a program", func(t *testing.T) {
		f := filepath.Join(dir, "x")
		require.NoError(t, os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755))
		_, err := StaticImageTar(f)
		assert.ErrorContains(t, err, "expected a Linux program")
	})
}
