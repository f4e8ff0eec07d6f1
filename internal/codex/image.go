package codex

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/voidbox/voidbox/internal/guestimage"
)

// The pinned CLI. A new version is a code change: bump all three, from
// `npm view @openai/codex@<v>-linux-x64 dist.integrity`.
const (
	// Version is the Codex CLI version voidbox runs and is tested with.
	Version = "0.171.0"
	// NPMPackage holds the linux-x64 build: @openai/codex's
	// optionalDependency @openai/codex-linux-x64 is an alias of it.
	NPMPackage = "@openai/codex"
	// PlatformVersion is the npm version of the linux-x64 build.
	PlatformVersion = Version + "-linux-x64"
	// Integrity is the tarball's dist.integrity as the registry listed it.
	Integrity = "sha512-l66NZkQgdk2C3pbcfULDz42yEUB581MVA6I+Y43Wp4OIqEy73HCdmZ0GTjeAHY2ycuH4N00d9VsLrwT1jxshTw=="
	// DefaultRegistry is the npm registry the CLI comes from.
	DefaultRegistry = "https://registry.npmjs.org"
	// GuestDir is where the guest mounts the flavour (read-only).
	GuestDir = "/opt/voidbox/codex"
)

// Sentinel errors.
var (
	// ErrIntegrity: the download or the registry's metadata does not match
	// the pinned digest.
	ErrIntegrity = errors.New("codex package integrity mismatch")
	// ErrImageMissing: the flavour is not in the cache.
	ErrImageMissing = errors.New("codex image not built")
)

// Options configure Build. The zero value builds Version into the default cache.
type Options struct {
	// CacheDir is the voidbox cache root; "" means guestimage.CacheRoot's default.
	CacheDir string
	// Progress receives one line per step; nil is silent.
	Progress io.Writer
	// Registry is the npm registry base URL; "" means DefaultRegistry.
	Registry string
	// HTTPClient fetches from the registry; nil means http.DefaultClient.
	HTTPClient *http.Client

	// pinned replaces Integrity in this package's tests, which serve a
	// tarball of their own; "" is Integrity.
	pinned string
}

func (o Options) integrity() string {
	if o.pinned == "" {
		return Integrity
	}
	return o.pinned
}

func (o Options) registry() string {
	if o.Registry == "" {
		return DefaultRegistry
	}
	return o.Registry
}

func (o Options) client() *http.Client {
	if o.HTTPClient == nil {
		return http.DefaultClient
	}
	return o.HTTPClient
}

// Image is a built codex flavour: a cache directory the guest mounts at GuestDir.
type Image struct {
	Dir       string            `json:"-"`
	Version   string            `json:"version"`
	Integrity string            `json:"integrity"`
	Files     map[string]record `json:"files"` // by path relative to Dir
}

type record struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Summary describes the flavour in a line, for voidbox doctor.
func (im *Image) Summary() string {
	var size int64
	for _, r := range im.Files {
		size += r.Size
	}
	return fmt.Sprintf("codex %s (%d files, %.1f MiB) at %s", im.Version, len(im.Files), float64(size)/(1<<20), im.Dir)
}

// Digest is one file of the flavour with its recorded digest.
type Digest struct {
	Path   string // relative to Dir, slash-separated
	Size   int64
	SHA256 string
}

// Digests lists the flavour's files with their recorded digests, by path.
func (im *Image) Digests() []Digest {
	out := make([]Digest, 0, len(im.Files))
	for rel, r := range im.Files {
		out = append(out, Digest{Path: rel, Size: r.Size, SHA256: r.SHA256})
	}
	slices.SortFunc(out, func(a, b Digest) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Binary is the guest path of the codex executable.
func (im *Image) Binary() string { return path.Join(GuestDir, "bin/codex") }

const manifestName = "flavour.json"

// flavourDir is where Version's flavour lives under a cache root.
func flavourDir(root string) string {
	return filepath.Join(root, "flavours", "codex-"+Version)
}

// Find returns the built flavour, or an error wrapping ErrImageMissing that
// says how to build it. It checks every file's size, not its digest.
func Find(cacheDir string) (*Image, error) {
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return nil, err
	}
	dir := flavourDir(root)
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("%w: no codex %s in %s (run `voidbox image build codex`)", ErrImageMissing, Version, dir)
	}
	im := &Image{Dir: dir}
	if err := json.Unmarshal(b, im); err != nil || im.Version != Version || len(im.Files) != len(members) {
		return nil, fmt.Errorf("%w: %s is not a codex %s flavour (run `voidbox image build codex`)", ErrImageMissing, dir, Version)
	}
	for rel, r := range im.Files {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil || fi.Size() != r.Size {
			return nil, fmt.Errorf("%w: %s changed since it was built (run `voidbox image build codex`)", ErrImageMissing, rel)
		}
	}
	return im, nil
}

// Build fetches the pinned CLI into the cache unless it is there already,
// and returns the flavour. Concurrent builds are safe: each unpacks into
// its own directory and the first to finish is kept.
func Build(ctx context.Context, o Options) (*Image, error) {
	if im, err := Find(o.CacheDir); err == nil {
		return im, nil
	}
	root, err := guestimage.CacheRoot(o.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "flavours"), 0o755); err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp(filepath.Join(root, "flavours"), ".codex-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	dir := filepath.Join(stage, "flavour")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if err := fetch(ctx, o, dir, stage); err != nil {
		return nil, fmt.Errorf("building the codex image: %w", err)
	}
	im := &Image{Version: Version, Integrity: o.integrity(), Files: map[string]record{}}
	for _, rel := range members {
		r, err := recordOf(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		im.Files[rel] = r
	}
	b, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, manifestName), b, 0o644); err != nil {
		return nil, err
	}
	final := flavourDir(root)
	if err := os.Rename(dir, final); err != nil {
		if found, ferr := Find(o.CacheDir); ferr == nil {
			return found, nil // another build finished first
		}
		return nil, fmt.Errorf("installing the codex image: %w", err)
	}
	progress(o.Progress, "codex %s: %s", Version, final)
	return Find(o.CacheDir)
}

func recordOf(file string) (record, error) {
	f, err := os.Open(file)
	if err != nil {
		return record{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return record{}, err
	}
	return record{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
