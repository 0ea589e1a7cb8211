package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Ref is an image name split as a registry sees it: the host the name is mapped from, the
// repository and the tag.
type Ref struct {
	Host, Repository, Tag string
}

func (r Ref) String() string { return r.Host + "/" + r.Repository + ":" + r.Tag }

// ParseRef splits an image name (a tag is required; "latest" when it has none, as a kubelet
// pulls it). Digest references are refused: a rollout deletes what a tag names.
func ParseRef(image string) (Ref, error) {
	n, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return Ref{}, fmt.Errorf("image %q: %w", image, err)
	}
	if _, ok := n.(reference.Digested); ok {
		return Ref{}, fmt.Errorf("image %q: expected a tag, not a digest", image)
	}
	tag := "latest"
	if t, ok := n.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return Ref{Host: reference.Domain(n), Repository: reference.Path(n), Tag: tag}, nil
}

// Client speaks the OCI distribution API to one registry (Base: http://HOST:PORT), whatever
// host an image's name carries: the nodes map those hosts to it.
type Client struct {
	Base string
	HTTP *http.Client // default: a client with a 30 s time-out
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (c *Client) do(ctx context.Context, method, u string, body []byte, header map[string]string) (*http.Response, error) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		u = c.Base + u
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	return c.http().Do(req)
}

// check reads and closes resp and returns an error naming what failed unless its status is one
// of want.
func check(resp *http.Response, what string, want ...int) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	return fmt.Errorf("%s: %s: %s", what, resp.Status, strings.TrimSpace(string(b)))
}

// Ping checks that the registry answers its API's base endpoint.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/v2/", nil, nil)
	if err != nil {
		return err
	}
	return check(resp, "GET /v2/", http.StatusOK)
}

// Push uploads img's blobs that repository lacks (mounting them from mountFrom, a repository
// that has them, when given) and puts its manifest under tag.
func (c *Client) Push(ctx context.Context, ref Ref, img *Image, mountFrom string) error {
	for _, b := range img.Blobs {
		if err := c.pushBlob(ctx, ref.Repository, b, mountFrom); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	return c.putManifest(ctx, ref, img)
}

func (c *Client) putManifest(ctx context.Context, ref Ref, img *Image) error {
	resp, err := c.do(ctx, http.MethodPut, "/v2/"+ref.Repository+"/manifests/"+ref.Tag, img.Manifest,
		map[string]string{"Content-Type": ocispec.MediaTypeImageManifest})
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return check(resp, "PUT manifest "+ref.String(), http.StatusCreated)
}

func (c *Client) pushBlob(ctx context.Context, repo string, b Blob, mountFrom string) error {
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+repo+"/blobs/"+b.Digest.String(), nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	start := "/v2/" + repo + "/blobs/uploads/"
	if mountFrom != "" && mountFrom != repo {
		start += "?" + url.Values{"mount": {b.Digest.String()}, "from": {mountFrom}}.Encode()
	}
	resp, err = c.do(ctx, http.MethodPost, start, nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusCreated { // mounted
		return check(resp, "mount blob", http.StatusCreated)
	}
	loc := resp.Header.Get("Location")
	if err := check(resp, "start blob upload", http.StatusAccepted); err != nil {
		return err
	}
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("upload location %q: %w", loc, err)
	}
	q := u.Query()
	q.Set("digest", b.Digest.String())
	u.RawQuery = q.Encode()
	target := u.String()
	if !u.IsAbs() {
		target = c.Base + u.String()
	}
	resp, err = c.do(ctx, http.MethodPut, target, b.Data, map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil {
		return err
	}
	return check(resp, "upload blob "+b.Digest.String(), http.StatusCreated)
}

// Resolve returns the digest the tag names; found false when the registry has no such manifest
// (what a kubelet's pull then gets: manifest unknown).
func (c *Client) Resolve(ctx context.Context, ref Ref) (d digest.Digest, found bool, err error) {
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+ref.Repository+"/manifests/"+ref.Tag, nil,
		map[string]string{"Accept": ocispec.MediaTypeImageManifest})
	if err != nil {
		return "", false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
		return d, err == nil, err
	case http.StatusNotFound:
		return "", false, nil
	}
	return "", false, fmt.Errorf("HEAD manifest %s: %s", ref, resp.Status)
}

// Delete deletes the manifest the tag names through the API (DELETE
// /v2/<name>/manifests/<digest>), which removes every tag pointing at it: a pull of the image
// fails from then on. Deleting an image already gone is not an error.
func (c *Client) Delete(ctx context.Context, ref Ref) error {
	d, found, err := c.Resolve(ctx, ref)
	if err != nil || !found {
		return err
	}
	resp, err := c.do(ctx, http.MethodDelete, "/v2/"+ref.Repository+"/manifests/"+d.String(), nil, nil)
	if err != nil {
		return fmt.Errorf("delete %s: %w", ref, err)
	}
	return check(resp, "DELETE manifest "+ref.String()+"@"+d.String(), http.StatusAccepted, http.StatusNotFound)
}

// Restore pushes img's manifest back under the tag (a roll-back): its blobs are still stored,
// since deleting a manifest leaves them until a garbage collection, which nothing runs here.
func (c *Client) Restore(ctx context.Context, ref Ref, img *Image) error {
	return c.putManifest(ctx, ref, img)
}
