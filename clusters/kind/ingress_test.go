package kind

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLibrariesOf(t *testing.T) {
	ldd := "\tlinux-vdso.so.1 (0x00007f2228930000)\n" +
		"\tlibpcre2-8.so.0 => /lib/x86_64-linux-gnu/libpcre2-8.so.0 (0x00007f22286f5000)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2227e1e000)\n" +
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f2228932000)\n"
	assert.Equal(t, []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libpcre2-8.so.0", "/lib64/ld-linux-x86-64.so.2"}, LibrariesOf(ldd))
}

func TestIngressLayer(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libx.so.1.2")
	require.NoError(t, os.WriteFile(lib, []byte("ELF"), 0o644))
	link := filepath.Join(dir, "libx.so.1")
	require.NoError(t, os.Symlink(lib, link))
	layer, err := ingressLayer(map[string]string{"/lib/x86_64-linux-gnu/libx.so.1": link})
	require.NoError(t, err)
	tr := tar.NewReader(bytes.NewReader(layer))
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	assert.Equal(t, "ELF", got["lib/x86_64-linux-gnu/libx.so.1"], "a symlinked library is copied as the file it names")
	for _, d := range []string{"lib/", "lib/x86_64-linux-gnu/", "tmp/", "var/lib/nginx/", "var/log/nginx/"} {
		assert.Contains(t, got, d)
	}
	assert.Contains(t, got["etc/passwd"], "root:x:0:0")
}
