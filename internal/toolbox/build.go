// Package toolbox builds a Debian-based OCI image on this host, without any
// registry: apt resolves and downloads a package set and its dependencies,
// their data archives become one layer (read with deb.Walk, the
// reader the guest image uses), ending with what the maintainer scripts
// would have made (they are not run), and the image is
// stored in the OCI cache as voidbox.local/toolbox:latest.
package toolbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/voidbox/voidbox/internal/filelock"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/oci"
)

// DefaultPackages are the toolbox's packages; apt adds their dependencies.
var DefaultPackages = []string{"base-files", "bash", "coreutils", "dash", "ca-certificates", "curl", "jq", "git", "python3"}

// Ref is where the toolbox image is stored.
const Ref = oci.LocalRegistry + "/toolbox:latest"

// formatVersion is part of the build key: bump it when the layer's
// contents change for the same packages.
const formatVersion = 1

// Options say what to build.
type Options struct {
	// CacheDir is the cache root ("" as guestimage.CacheRoot).
	CacheDir string
	// Packages replace DefaultPackages when set.
	Packages []string
	// Progress receives a line per step. Nil is silent.
	Progress io.Writer
}

// Build resolves the packages with apt and stores the image, unless an
// image of exactly the resolved versions is already stored, which it
// returns after the resolution (a few seconds, no download).
func Build(ctx context.Context, o Options) (*oci.Image, error) {
	names := o.Packages
	if len(names) == 0 {
		names = DefaultPackages
	}
	for _, n := range names {
		if n == "" || strings.HasPrefix(n, "-") || strings.ContainsAny(n, " \t/=") {
			return nil, fmt.Errorf("%w: package name %q", oci.ErrInvalid, n)
		}
	}
	store, err := oci.Open(o.CacheDir)
	if err != nil {
		return nil, err
	}
	root, err := guestimage.CacheRoot(o.CacheDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "toolbox")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l, err := filelock.Acquire(ctx, filepath.Join(dir, ".lock"), func() {
		line(o.Progress, "waiting for another toolbox build to finish")
	})
	if err != nil {
		return nil, err
	}
	defer l.Close()

	start := time.Now()
	line(o.Progress, "resolving %s with apt", strings.Join(names, " "))
	pkgs, debs, err := downloadClosure(ctx, dir, names)
	if err != nil {
		return nil, fmt.Errorf("building the toolbox: %w", err)
	}
	key := buildKey(pkgs)
	if im, err := store.Inspect(Ref); err == nil && readBuilt(dir) == key+" "+im.Digest {
		line(o.Progress, "toolbox is up to date (%d packages)", len(pkgs))
		return im, nil
	}
	line(o.Progress, "%d packages resolved in %s; writing the layer", len(pkgs), time.Since(start).Round(100*time.Millisecond))
	img, layerFile, err := image(ctx, store.Dir(), debs, pkgs, key)
	if layerFile != "" {
		defer os.Remove(layerFile)
	}
	if err != nil {
		return nil, fmt.Errorf("building the toolbox: %w", err)
	}
	im, err := store.Add(ctx, Ref, img)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "built"), []byte(key+" "+im.Digest), 0o644); err != nil {
		return nil, err
	}
	line(o.Progress, "built %s: %s, %s, in %s", Ref, oci.ShortDigest(im.Digest), oci.HumanBytes(im.Size), time.Since(start).Round(100*time.Millisecond))
	return im, nil
}

// image assembles the OCI image around the layer written to a temp file.
// The layer file must stay until the image is stored; the caller removes
// it (the store's tmp/ is cleared by the next rm or prune if we die first).
func image(ctx context.Context, storeDir string, debs []string, pkgs []Package, key string) (v1.Image, string, error) {
	tmp, err := os.CreateTemp(filepath.Join(storeDir, "tmp"), "toolbox-*.tar.gz")
	if err != nil {
		return nil, "", err
	}
	tmp.Close()
	img, err := imageFrom(ctx, tmp.Name(), debs, pkgs, key)
	return img, tmp.Name(), err
}

func imageFrom(ctx context.Context, layerFile string, debs []string, pkgs []Package, key string) (v1.Image, error) {
	if err := writeLayer(ctx, layerFile, debs); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerFile, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cfg.Config.Cmd = []string{"/bin/bash"}
	cfg.Config.WorkingDir = "/"
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name+"="+p.Version)
	}
	cfg.Config.Labels = map[string]string{"org.voidbox.toolbox.key": key, "org.voidbox.toolbox.packages": strings.Join(names, " ")}
	return mutate.ConfigFile(img, cfg)
}

func buildKey(pkgs []Package) string {
	b, _ := json.Marshal(map[string]any{"format": formatVersion, "packages": pkgs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readBuilt(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "built"))
	return strings.TrimSpace(string(b))
}

func line(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
