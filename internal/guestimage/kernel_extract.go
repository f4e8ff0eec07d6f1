package guestimage

import (
	"archive/tar"
	"bytes"
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

// koFile is one module read out of the package, on its way to being parsed and written.
type koFile struct {
	rel  string // relative to lib/modules/<release>
	data []byte
}

// extractKernel streams the kernel .deb once. vmlinuz and config go to out, and vmlinux is built
// from vmlinuz as soon as it has been read. Every .ko goes to all/ (path relative to
// lib/modules/<release>) with its .modinfo parsed on the way: the module set's closure is only known
// once every module has been seen, so the caller moves the needed ones out of all/ afterwards.
//
// xz decompression is the bottleneck (single-threaded, ~6 s for Debian's 400 MB tree), so parsing and
// writing modules, and building vmlinux, run in their own goroutines alongside it.
func extractKernel(ctx context.Context, debPath, all, out string) (kernelMeta, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return kernelMeta{}, err
	}
	var (
		release    string
		builtin    []string
		sawVmlinuz bool
		infos      = map[string]modInfo{} // written only by the module goroutine
	)
	g, gctx := errgroup.WithContext(ctx)
	kos := make(chan koFile, 16)
	g.Go(func() error {
		defer close(kos)
		return deb.Walk(gctx, debPath, func(name string, h *tar.Header, r io.Reader) error {
			if h.Typeflag != tar.TypeReg {
				return nil
			}
			switch {
			case strings.HasPrefix(name, "boot/vmlinuz-"):
				if sawVmlinuz {
					return fmt.Errorf("%w: package has more than one boot/vmlinuz-*", ErrUnsupportedKernel)
				}
				sawVmlinuz, release = true, strings.TrimPrefix(name, "boot/vmlinuz-")
				if err := copyToFile(filepath.Join(out, "vmlinuz"), r, 0o644); err != nil {
					return err
				}
				g.Go(func() error { return buildVmlinux(filepath.Join(out, "vmlinuz"), filepath.Join(out, "vmlinux")) })
			case strings.HasPrefix(name, "boot/config-"):
				return copyToFile(filepath.Join(out, "config"), r, 0o644)
			case strings.HasPrefix(name, "lib/modules/") && path.Base(name) == "modules.builtin":
				b, err := io.ReadAll(io.LimitReader(r, 16<<20))
				if err != nil {
					return err
				}
				for _, line := range strings.Fields(string(b)) {
					builtin = append(builtin, normalizeModName(path.Base(line)))
				}
			case strings.HasPrefix(name, "lib/modules/") && strings.HasSuffix(name, ".ko"):
				parts := strings.SplitN(name, "/", 4) // lib, modules, <release>, rest
				if len(parts) < 4 {
					return nil
				}
				if h.Size > maxModuleSize {
					return fmt.Errorf("%s: %d bytes is too large for a module", name, h.Size)
				}
				b, err := io.ReadAll(r)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				select {
				case kos <- koFile{rel: parts[3], data: b}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	})
	g.Go(func() error {
		for ko := range kos {
			mi, err := parseModinfo(bytes.NewReader(ko.data))
			if err != nil {
				return fmt.Errorf("%s: %w", ko.rel, err)
			}
			infos[ko.rel] = mi
			if err := writeFileMkdir(filepath.Join(all, filepath.FromSlash(ko.rel)), ko.data); err != nil {
				return err
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return kernelMeta{}, err
	}
	if !sawVmlinuz {
		return kernelMeta{}, fmt.Errorf("%w: package has no boot/vmlinuz-*", ErrUnsupportedKernel)
	}
	return kernelMeta{Index: buildIndex(release, infos, builtin)}, nil
}
