package registry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline-dev/faultline/clusters/registry"
)

// a fake root file system: what is pushed does not matter to the registry
var layer = []byte("a tar stream would be here; the registry stores bytes")

func newRegistry(t *testing.T) *registry.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(registry.Handler(ctx))
	t.Cleanup(func() { srv.Close(); cancel() })
	c := &registry.Client{Base: srv.URL}
	require.NoError(t, c.Ping(context.Background()))
	return c
}

// pull fetches a manifest as a kubelet's pull starts: by tag, then by digest.
func pull(t *testing.T, c *registry.Client, ref registry.Ref) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.Base+"/v2/"+ref.Repository+"/manifests/"+ref.Tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestPushDeleteRestore(t *testing.T) {
	c := newRegistry(t)
	ctx := context.Background()
	a, err := registry.NewImage(layer, []string{"/faultline-echo"}, map[string]string{"app": "app-1"})
	require.NoError(t, err)
	b, err := registry.NewImage(layer, []string{"/faultline-echo"}, map[string]string{"app": "app-2"})
	require.NoError(t, err)
	assert.NotEqual(t, a.Digest, b.Digest, "each app's image has its own digest")
	assert.Equal(t, a.Blobs[1].Digest, b.Blobs[1].Digest, "the layer is shared")

	r1, err := registry.ParseRef("registry.mittwald.example/app-1:php-8.2.10")
	require.NoError(t, err)
	assert.Equal(t, registry.Ref{Host: "registry.mittwald.example", Repository: "app-1", Tag: "php-8.2.10"}, r1)
	r2, _ := registry.ParseRef("registry.mittwald.example/app-2:php-8.2.10")
	require.NoError(t, c.Push(ctx, r1, a, ""))
	require.NoError(t, c.Push(ctx, r2, b, r1.Repository)) // the layer mounted from app-1

	d, found, err := c.Resolve(ctx, r1)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, a.Digest, d)
	assert.Equal(t, http.StatusOK, pull(t, c, r1))

	// the consolidation: DELETE /v2/app-1/manifests/<digest>; the tag goes with it
	require.NoError(t, c.Delete(ctx, r1))
	_, found, err = c.Resolve(ctx, r1)
	require.NoError(t, err)
	assert.False(t, found)
	assert.Equal(t, http.StatusNotFound, pull(t, c, r1), "a pull now fails: manifest unknown")
	assert.Equal(t, http.StatusOK, pull(t, c, r2), "another app's image is untouched")
	require.NoError(t, c.Delete(ctx, r1), "deleting what is gone is no error")

	// the roll-back: the same manifest pushed back, its blobs still stored
	require.NoError(t, c.Restore(ctx, r1, a))
	d, found, err = c.Resolve(ctx, r1)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, a.Digest, d)
	assert.Equal(t, http.StatusOK, pull(t, c, r1))
}

func TestParseRef(t *testing.T) {
	r, err := registry.ParseRef("registry.example:5000/team/app")
	require.NoError(t, err)
	assert.Equal(t, registry.Ref{Host: "registry.example:5000", Repository: "team/app", Tag: "latest"}, r)
	_, err = registry.ParseRef("registry.example/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	assert.ErrorContains(t, err, "expected a tag")
	_, err = registry.ParseRef("Not An Image")
	assert.Error(t, err)
}

func TestPushToDeadRegistry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c := &registry.Client{Base: srv.URL, HTTP: &http.Client{Timeout: time.Second}}
	img, err := registry.NewImage(layer, nil, nil)
	require.NoError(t, err)
	r, _ := registry.ParseRef("registry.example/app:v1")
	assert.Error(t, c.Push(context.Background(), r, img, ""))
	assert.Error(t, c.Ping(context.Background()))
}
