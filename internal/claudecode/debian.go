package claudecode

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/deb"
	"golang.org/x/sync/errgroup"
)

// libDirs are the directories of a Debian package whose shared libraries
// the flavour may take (before and after the /usr merge).
var libDirs = map[string]bool{
	"lib/x86_64-linux-gnu": true, "usr/lib/x86_64-linux-gnu": true,
	"lib64": true, "usr/lib64": true,
}

// debFiles are the candidate files unpacked from the Debian packages into
// a scratch directory.
type debFiles struct {
	dir   string
	files map[string]string // base name → unpacked regular file
	links map[string]string // base name → symlink target (a path)
	bash  string            // the unpacked bin/bash, "" if none
}

// resolveDebian asks the package source for the version of every package
// the flavour takes files from. apt-cache takes a second per query, so the
// queries run side by side.
func resolveDebian(ctx context.Context, src deb.Source) ([]Package, error) {
	pkgs := make([]Package, len(debianPackages))
	g, gctx := errgroup.WithContext(ctx)
	for i, name := range debianPackages {
		g.Go(func() error {
			info, err := src.Show(gctx, name)
			pkgs[i] = Package{Name: name, Version: info.Version}
			return err
		})
	}
	return pkgs, g.Wait()
}

// fetchDebian downloads pkgs into scratch, side by side, and unpacks their
// shared libraries and bash.
func fetchDebian(ctx context.Context, src deb.Source, pkgs []Package, scratch string, w io.Writer) (*debFiles, error) {
	d := &debFiles{dir: filepath.Join(scratch, "files"), files: map[string]string{}, links: map[string]string{}}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, err
	}
	debs := make([]string, len(pkgs))
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range pkgs {
		g.Go(func() error {
			dl := filepath.Join(scratch, "deb-"+p.Name)
			if err := os.MkdirAll(dl, 0o755); err != nil {
				return err
			}
			progress(w, "fetching Debian package %s=%s", p.Name, p.Version)
			var err error
			debs[i], err = src.Download(gctx, p.Name, p.Version, dl)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range debs { // in package order, so "keep the first" is deterministic
		if err := deb.Walk(ctx, p, d.take); err != nil {
			return nil, err
		}
		if err := os.RemoveAll(filepath.Dir(p)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// take keeps the entries the flavour may need.
func (d *debFiles) take(name string, h *tar.Header, r io.Reader) error {
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if (name == "bin/bash" || name == "usr/bin/bash") && h.Typeflag == tar.TypeReg {
		d.bash = filepath.Join(d.dir, "bash")
		return writeFile(d.bash, io.LimitReader(r, h.Size), 0o755)
	}
	if !libDirs[dir] || !strings.Contains(base, ".so") {
		return nil
	}
	switch h.Typeflag {
	case tar.TypeReg:
		if _, dup := d.files[base]; dup {
			return nil // the same library listed twice (pre/post /usr merge): keep the first
		}
		p := filepath.Join(d.dir, base)
		if err := writeFile(p, io.LimitReader(r, h.Size), 0o644); err != nil {
			return err
		}
		d.files[base] = p
	case tar.TypeSymlink:
		d.links[base] = h.Linkname
	}
	return nil
}

// lookup finds a library by soname, following symlinks among the
// unpacked files (libtinfo.so.6 → libtinfo.so.6.4).
func (d *debFiles) lookup(soname string) (string, bool) {
	name := soname
	for range 8 {
		if p, ok := d.files[name]; ok {
			return p, true
		}
		target, ok := d.links[name]
		if !ok {
			return "", false
		}
		name = path.Base(target)
	}
	return "", false
}

// installLibs copies the closure's libraries into lib/ of the staging
// directory under their sonames and returns their relative paths, the
// loader first.
func installLibs(stage string, libs []libFile) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(stage, "lib"), 0o755); err != nil {
		return nil, err
	}
	rels := make([]string, 0, len(libs))
	for _, l := range libs {
		rel := "lib/" + l.name
		perm := os.FileMode(0o644)
		if strings.HasPrefix(l.name, "ld-") {
			perm = 0o755 // the loader is also a program
		}
		if err := copyFile(l.path, filepath.Join(stage, rel), perm); err != nil {
			return nil, fmt.Errorf("installing %s: %w", l.name, err)
		}
		rels = append(rels, rel)
	}
	return rels, nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFile(dst, f, perm)
}
