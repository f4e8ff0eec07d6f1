package oci

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Add stores an image made on this host (no registry) under ref, which
// must be in LocalRegistry ("voidbox.local/toolbox:latest"), exactly as
// a pull would: blobs verified against their digests, then the record,
// then the reference.
func (s *Store) Add(ctx context.Context, ref string, img v1.Image) (*Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	if r.Context().RegistryStr() != LocalRegistry {
		return nil, fmt.Errorf("%w: local images are named %s/NAME:TAG, not %s", ErrInvalid, LocalRegistry, ref)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	digest := sha256Digest(raw)
	gc, err := s.gcShared(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	l, err := s.lock(ctx, "image-"+strings.TrimPrefix(digest, "sha256:"), nil)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if rec, err := s.readRecord(digest); err != nil || !s.complete(rec) {
		if err := s.store(ctx, img, raw, digest); err != nil {
			return nil, fmt.Errorf("storing %s: %w", ref, err)
		}
	}
	if err := s.updateRefs(ctx, func(m map[string]string) { m[canonical(r)] = digest }); err != nil {
		return nil, err
	}
	s.touch(digest)
	return s.inspect(digest)
}

// store writes a local image's blobs and record.
// Precondition: the image lock and the shared gc lock are held.
func (s *Store) store(ctx context.Context, img v1.Image, raw []byte, digest string) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cfgRaw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	rec := &Image{Digest: digest, MediaType: string(m.MediaType), Platform: Platform.String(),
		Config: m.Config.Digest.String(), Pulled: time.Now().UTC(), Size: int64(len(raw)) + m.Config.Size}
	rec.setConfig(cfg)
	for i, desc := range m.Layers {
		layer, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			return err
		}
		if err := s.fetchBlob(ctx, desc.Digest.String(), desc.Size, layer.Compressed, nil); err != nil {
			return err
		}
		rec.Layers = append(rec.Layers, Layer{Digest: desc.Digest.String(), DiffID: cfg.RootFS.DiffIDs[i].String(),
			Size: desc.Size, MediaType: string(desc.MediaType)})
		rec.Size += desc.Size
	}
	if err := s.putBlob(ctx, rec.Config, cfgRaw); err != nil {
		return err
	}
	if err := s.putBlob(ctx, digest, raw); err != nil {
		return err
	}
	return s.writeRecord(rec)
}
