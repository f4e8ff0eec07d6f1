package oci

import (
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image returns a cached image as a go-containerregistry image backed by
// the cache's blobs, to push it (remote.Write) or read it without the
// network. The blobs are read when asked for; the image must not be
// removed meanwhile (hold a Lease).
func (s *Store) Image(refOrDigest string) (v1.Image, error) {
	d, err := s.resolveLocal(refOrDigest)
	if err != nil {
		return nil, err
	}
	rec, err := s.readRecord(d)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(s.blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", ShortDigest(d), err)
	}
	if sha256Digest(raw) != d {
		return nil, fmt.Errorf("%w: the cached manifest of %s", ErrDigest, d)
	}
	cfg, err := os.ReadFile(s.blobPath(rec.Config))
	if err != nil {
		return nil, fmt.Errorf("config of %s: %w", ShortDigest(d), err)
	}
	return partial.CompressedToImage(&cachedImage{s: s, rec: rec, manifest: raw, config: cfg})
}

// cachedImage is partial.CompressedImageCore over the blob directory.
type cachedImage struct {
	s        *Store
	rec      *Image
	manifest []byte
	config   []byte
}

func (c *cachedImage) RawConfigFile() ([]byte, error) { return c.config, nil }
func (c *cachedImage) RawManifest() ([]byte, error)   { return c.manifest, nil }
func (c *cachedImage) MediaType() (types.MediaType, error) {
	return types.MediaType(c.rec.MediaType), nil
}

func (c *cachedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.rec.Layers {
		if l.Digest == h.String() {
			return &cachedLayer{s: c.s, l: l}, nil
		}
	}
	if h.String() == c.rec.Config {
		return &cachedLayer{s: c.s, l: Layer{Digest: c.rec.Config, Size: int64(len(c.config))}}, nil
	}
	return nil, fmt.Errorf("%w: blob %s is not part of image %s", ErrNotFound, h, ShortDigest(c.rec.Digest))
}

type cachedLayer struct {
	s *Store
	l Layer
}

func (c *cachedLayer) Digest() (v1.Hash, error) { return v1.NewHash(c.l.Digest) }
func (c *cachedLayer) Size() (int64, error)     { return c.l.Size, nil }
func (c *cachedLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(c.l.MediaType), nil
}
func (c *cachedLayer) Compressed() (io.ReadCloser, error) { return os.Open(c.s.blobPath(c.l.Digest)) }
