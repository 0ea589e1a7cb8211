package registry

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"maps"
	"runtime"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is an OCI image ready to push: its blobs by digest and its manifest.
type Image struct {
	Manifest []byte
	Digest   digest.Digest // of Manifest
	Blobs    []Blob        // the config first, then the layers
}

// Blob is content the manifest names by digest.
type Blob struct {
	Digest digest.Digest
	Data   []byte
}

// NewImage builds a one-layer OCI image for this machine's architecture: layer is an
// uncompressed tar of its root file system (pushed gzip-compressed), entrypoint its command and
// labels its config labels. The gzip stream is deterministic, so the same layer always has the
// same digest and is stored once however many images share it.
func NewImage(layer []byte, entrypoint []string, labels map[string]string) (*Image, error) {
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(layer); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	cfg := ocispec.Image{
		Platform: ocispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   ocispec.ImageConfig{Entrypoint: entrypoint, Labels: maps.Clone(labels)},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(layer)}},
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	config := Blob{Digest: digest.FromBytes(cb), Data: cb}
	lay := Blob{Digest: digest.FromBytes(gz.Bytes()), Data: gz.Bytes()}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: config.Digest, Size: int64(len(cb))},
		Layers:    []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: lay.Digest, Size: int64(len(lay.Data))}},
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &Image{Manifest: mb, Digest: digest.FromBytes(mb), Blobs: []Blob{config, lay}}, nil
}
