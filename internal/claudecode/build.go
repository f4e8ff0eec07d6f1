package claudecode

import (
	"context"
	"errors"
	"fmt"
	"github.com/voidbox/voidbox/internal/artifact"
	"github.com/voidbox/voidbox/internal/filelock"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// BuildImage makes sure the claude-code flavour of o.Version is in the
// cache and returns it. Unless o.Refresh is set, an existing flavour of
// that version is returned at once, without touching the network or apt.
//
// A build downloads the npm package NPMPackage (verifying its sha512
// integrity while unpacking), Debian's libc6, libtinfo6 and bash (with the
// host's apt), and assembles
//
//	<cache>/flavours/claude-code-<version>-<libc6 version>/
//	    bin/claude  bin/bash  lib/<every library they load>  flavour.json
//
// in a staging directory that is renamed into place when complete, under
// an flock that makes concurrent builds (goroutines or processes) build
// once.
func BuildImage(ctx context.Context, o Options) (*Image, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	root := o.CacheDir
	if !o.Refresh {
		if im, _, err := findBuilt(root, o.Version); err != nil || im != nil {
			return im, err
		}
	}
	for _, d := range []string{flavoursDir, "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("preparing the cache: %w", err)
		}
	}
	l, err := filelock.Acquire(ctx, filepath.Join(root, flavoursDir, ".claude-code.lock"), func() {
		progress(o.Progress, "waiting for another build of the claude-code flavour to finish")
	})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if !o.Refresh { // someone may have built it while we waited
		if im, _, err := findBuilt(root, o.Version); err != nil || im != nil {
			return im, err
		}
	}
	im, err := build(ctx, &o)
	if err != nil {
		return nil, fmt.Errorf("building the claude-code %s flavour: %w", o.Version, err)
	}
	return im, nil
}

// build does the work. Precondition: the build lock is held.
func build(ctx context.Context, o *Options) (*Image, error) {
	start := time.Now()
	root := o.CacheDir
	progress(o.Progress, "resolving %s@%s and the Debian packages %s", NPMPackage, o.Version, strings.Join(debianPackages, ", "))
	meta, err := fetchManifest(ctx, o.HTTPClient, o.Registry, NPMPackage, o.Version)
	if err != nil {
		return nil, err
	}
	pkgs, err := resolveDebian(ctx, o.Debian)
	if err != nil {
		return nil, err
	}
	final := filepath.Join(root, flavoursDir, flavourName(o.Version, versionOf(pkgs, "libc6")))
	if im, m, err := loadImage(final); err == nil && slices.Equal(m.Debian, pkgs) && m.Integrity == meta.Dist.Integrity {
		return im, nil // Refresh found nothing new
	}

	stage, err := os.MkdirTemp(filepath.Join(root, "tmp"), filepath.Base(final)+".*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage) // a no-op once renamed into place
	scratch, err := os.MkdirTemp(filepath.Join(root, "tmp"), "claude-code-debs.*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	if err := os.Mkdir(filepath.Join(stage, "bin"), 0o755); err != nil {
		return nil, err
	}
	// The Debian packages and the npm binary are fetched side by side.
	w := &lockedWriter{w: o.Progress}
	claude := filepath.Join(stage, "bin", "claude")
	var debs *debFiles
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		debs, err = fetchDebian(gctx, o.Debian, pkgs, scratch, w)
		return err
	})
	g.Go(func() error {
		tarball := filepath.Join(scratch, "claude.tgz")
		if err := downloadTarball(gctx, o.HTTPClient, meta, tarball, w); err != nil {
			return err
		}
		progress(w, "unpacking bin/claude")
		if err := unpackTarball(tarball, claude, o.Version); err != nil {
			return err
		}
		return os.Remove(tarball)
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if debs.bash == "" {
		return nil, errors.New("the bash package has no bin/bash")
	}
	if err := copyFile(debs.bash, filepath.Join(stage, "bin", "bash"), 0o755); err != nil {
		return nil, err
	}
	libs, interp, err := libClosure([]string{claude, filepath.Join(stage, "bin", "bash")}, debs.lookup)
	if err != nil {
		return nil, err
	}
	rels, err := installLibs(stage, libs)
	if err != nil {
		return nil, err
	}
	files, err := fileSizes(stage)
	if err != nil {
		return nil, err
	}
	all := make([]string, 0, len(files))
	for rel := range files {
		all = append(all, rel)
	}
	records, err := artifact.StampAll(stage, all)
	if err != nil {
		return nil, err
	}
	m := &manifest{
		Runtime: runtimeName, Version: o.Version, NPMPackage: NPMPackage,
		Tarball: meta.Dist.Tarball, Integrity: meta.Dist.Integrity, Debian: pkgs,
		Binary: "bin/claude", Shell: "bin/bash", Libs: rels, Loader: rels[0], Interp: interp,
		Files: files, Records: records, Built: time.Now().UTC(),
	}
	if err := writeManifest(stage, m); err != nil {
		return nil, err
	}
	// MkdirTemp made it 0700; the guest reads it as uid 1000 through 9p.
	if err := os.Chmod(stage, 0o755); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	if err := os.Rename(stage, final); err != nil {
		return nil, fmt.Errorf("moving the flavour into place: %w", err)
	}
	im, _, err := loadImage(final)
	if err != nil {
		return nil, err
	}
	progress(o.Progress, "built claude-code %s (%s) in %s", o.Version, humanBytes(im.Size), time.Since(start).Round(100*time.Millisecond))
	return im, nil
}

// fileSizes lists every regular file under dir with its size.
func fileSizes(dir string) (map[string]int64, error) {
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	return out, err
}

func versionOf(pkgs []Package, name string) string {
	for _, p := range pkgs {
		if p.Name == name {
			return p.Version
		}
	}
	return ""
}

// lockedWriter serialises progress lines from concurrent downloads.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu; nil is silent
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.w == nil {
		return len(p), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
