package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// Platform is the only platform voidbox guests run.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// PullOptions tune a pull. The zero value pulls with the user's docker
// credentials and the default HTTP transport.
type PullOptions struct {
	// Progress receives per-layer progress: bars redrawn in place when it is
	// a terminal, plain lines otherwise. Nil is silent.
	Progress io.Writer
	// Keychain finds credentials; nil means authn.DefaultKeychain (docker's
	// config.json and credential helpers, anonymous when none match).
	Keychain authn.Keychain
	// Transport carries the requests; nil means http.DefaultTransport.
	// Plain HTTP is refused for every host but localhost and loopback.
	Transport http.RoundTripper
	// Jobs is how many layers download at once; 0 means 3.
	Jobs int
}

// Pull fetches ref (by tag or digest) and every blob of its linux/amd64
// image into the cache, verifying each against its digest, and records ref
// as pointing at it. The registry is always asked what the reference names
// now; blobs already in the cache are not fetched again.
func (s *Store) Pull(ctx context.Context, refStr string, o PullOptions) (*Image, error) {
	ref, err := ParseRef(refStr)
	if err != nil {
		return nil, err
	}
	if ref.Context().RegistryStr() == LocalRegistry {
		return nil, fmt.Errorf("%w: %s is built on this host, not pulled (see voidbox image build)", ErrInvalid, ref)
	}
	im, err := s.pull(ctx, ref, o)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return im, nil
}

func (s *Store) pull(ctx context.Context, ref name.Reference, o PullOptions) (*Image, error) {
	start := time.Now()
	keychain := o.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	refused := new(atomic.Bool)
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(keychain),
		remote.WithTransport(httpsOnly{next: base, refused: refused}),
		remote.WithPlatform(Platform),
		remote.WithUserAgent("voidbox"),
		remote.WithRetryBackoff(remote.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, explainRefused(ref, err, refused.Load())
	}
	if dg, ok := ref.(name.Digest); ok && dg.DigestStr() != desc.Digest.String() {
		return nil, fmt.Errorf("%w: asked for %s, the registry's manifest is %s", ErrDigest, dg.DigestStr(), desc.Digest)
	}
	img, index, err := pickImage(desc)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, explain(ref, err)
	}
	digest := sha256Digest(raw)
	if index == nil && digest != desc.Digest.String() {
		return nil, fmt.Errorf("%w: manifest of %s hashes to %s, the registry says %s", ErrDigest, ref, digest, desc.Digest)
	}

	gc, err := s.gcShared(ctx, o.Progress)
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	l, err := s.lock(ctx, "image-"+strings.TrimPrefix(digest, "sha256:"), o.Progress)
	if err != nil {
		return nil, err
	}
	defer l.Close()

	if rec, err := s.readRecord(digest); err == nil && s.complete(rec) {
		line(o.Progress, "%s is up to date (%s)", ref, ShortDigest(digest))
	} else {
		if err := s.fetch(ctx, ref, img, raw, digest, index, o); err != nil {
			return nil, err
		}
	}
	if err := s.updateRefs(ctx, func(m map[string]string) { m[canonical(ref)] = digest }); err != nil {
		return nil, err
	}
	s.touch(digest)
	rec, err := s.inspect(digest)
	if err != nil {
		return nil, err
	}
	line(o.Progress, "pulled %s: %s, %d layers, %s in %s", ref, ShortDigest(digest), len(rec.Layers),
		HumanBytes(rec.Size), time.Since(start).Round(10*time.Millisecond))
	return rec, nil
}

// pickImage returns the image a descriptor names: itself, or the
// linux/amd64 child of an index (with the index's raw bytes).
func pickImage(desc *remote.Descriptor) (v1.Image, []byte, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		return img, nil, err
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	var have []string
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == Platform.OS && m.Platform.Architecture == Platform.Architecture {
			img, err := idx.Image(m.Digest)
			if err != nil {
				return nil, nil, err
			}
			raw, err := idx.RawManifest()
			return img, raw, err
		}
		if m.Platform != nil {
			have = append(have, m.Platform.String())
		}
	}
	return nil, nil, fmt.Errorf("%w: the index has no linux/amd64 image (it has %s)", ErrInvalid, strings.Join(have, ", "))
}

// fetch downloads every missing blob of img and writes its record.
// Precondition: the image lock and the shared gc lock are held.
func (s *Store) fetch(ctx context.Context, ref name.Reference, img v1.Image, raw []byte, digest string, index []byte, o PullOptions) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	cfgRaw, err := img.RawConfigFile()
	if err != nil {
		return explain(ref, err)
	}
	rec, err := newRecord(m, raw, cfgRaw, digest, index)
	if err != nil {
		return err
	}

	bars := newMeter(o.Progress, ref.String(), rec.Layers)
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, l := range rec.Layers {
		g.Go(func() error {
			err := s.fetchBlob(gctx, l.Digest, l.Size, func() (io.ReadCloser, error) {
				layer, err := img.LayerByDigest(v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(l.Digest, "sha256:")})
				if err != nil {
					return nil, err
				}
				return layer.Compressed()
			}, bars.layer(i))
			if err != nil {
				return fmt.Errorf("layer %s: %w", ShortDigest(l.Digest), explain(ref, err))
			}
			return nil
		})
	}
	err = g.Wait()
	bars.close()
	if err != nil {
		return err
	}
	// Small blobs last, so a record's blobs all exist once it does.
	for _, b := range []struct {
		raw  []byte
		want string
	}{{raw, digest}, {cfgRaw, rec.Config}, {index, rec.Index}} {
		if b.raw == nil {
			continue
		}
		if err := s.putBlob(ctx, b.want, b.raw); err != nil {
			return err
		}
	}
	return s.writeRecord(rec)
}

// newRecord checks an image's manifest (raw, parsed as m) and config blob
// as the registry sent them — untrusted bytes, fuzzed by FuzzNewRecord —
// and returns the image's record: the config must hash to what the
// manifest says, name one diff_id per layer, and every layer digest must be
// sha256:<hex>, since it becomes a file name in the blob directory, and
// sizes are never negative.
func newRecord(m *v1.Manifest, raw, cfgRaw []byte, digest string, index []byte) (*Image, error) {
	if got := sha256Digest(cfgRaw); got != m.Config.Digest.String() {
		return nil, fmt.Errorf("%w: config blob hashes to %s, the manifest says %s", ErrDigest, got, m.Config.Digest)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("%w: config: %w", ErrInvalid, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%w: %d layers but %d diff_ids in the config", ErrInvalid, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	rec := &Image{Digest: digest, MediaType: string(m.MediaType), Platform: Platform.String(),
		Config: m.Config.Digest.String(), Pulled: time.Now().UTC(), Size: int64(len(raw)) + m.Config.Size}
	rec.setConfig(cfg)
	if index != nil {
		rec.Index = sha256Digest(index)
	}
	if m.Config.Size < 0 {
		return nil, fmt.Errorf("%w: config size %d", ErrInvalid, m.Config.Size)
	}
	for i, l := range m.Layers {
		if err := validDigest(l.Digest.String()); err != nil {
			return nil, err
		}
		if l.Size < 0 {
			return nil, fmt.Errorf("%w: layer %s has size %d", ErrInvalid, ShortDigest(l.Digest.String()), l.Size)
		}
		rec.Layers = append(rec.Layers, Layer{Digest: l.Digest.String(), DiffID: cfg.RootFS.DiffIDs[i].String(),
			Size: l.Size, MediaType: string(l.MediaType)})
		rec.Size += l.Size
	}
	return rec, nil
}

// complete reports whether every blob im names is in the cache.
func (s *Store) complete(im *Image) bool {
	for _, d := range im.blobs() {
		if _, err := os.Stat(s.blobPath(d)); err != nil {
			return false
		}
	}
	for _, l := range im.Layers { // a layer cut short is fetched again
		if fi, err := os.Stat(s.blobPath(l.Digest)); err != nil || fi.Size() != l.Size {
			return false
		}
	}
	return true
}

// blobs lists every blob digest the image needs.
func (im *Image) blobs() []string {
	out := []string{im.Digest, im.Config}
	if im.Index != "" {
		out = append(out, im.Index)
	}
	for _, l := range im.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func (im *Image) setConfig(cfg *v1.ConfigFile) {
	im.Created = cfg.Created.UTC()
	im.Env = cfg.Config.Env
	im.WorkingDir = cfg.Config.WorkingDir
	im.User = cfg.Config.User
	im.Entrypoint = cfg.Config.Entrypoint
	im.Cmd = cfg.Config.Cmd
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
