package guestimage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/artifact"
)

// kernelMeta is kernel.json in a kernel directory. It is written last: a kernel directory without
// it is incomplete.
type kernelMeta struct {
	Package   pkgRef       `json:"package"`
	Index     *moduleIndex `json:"index"`
	Extracted []string     `json:"extracted"` // modules whose .ko files are in this directory
	// Files records vmlinuz, vmlinux and every extracted module as written.
	Files artifact.Set `json:"files,omitempty"`
}

type kernelFiles struct {
	dir, vmlinuz, vmlinux string
	meta                  kernelMeta
	damage                error // the directory is complete but not as recorded
	builtin               bool  // a prebuilt kernel with every module built in
}

// koRel is m's .ko file relative to the kernel directory (slash-separated).
func koRel(m ManifestModule) string { return strings.TrimPrefix(m.Path, "/") }

func (k kernelFiles) koPath(m ManifestModule) string {
	return filepath.Join(k.dir, filepath.FromSlash(koRel(m)))
}

// maxModuleSize bounds one .ko read into memory; the largest Debian module is a few MB.
const maxModuleSize = 256 << 20

// loadKernel reads the kernel directory for pkg. ok is true when it is complete, holds every module
// of set and its files are as recorded (size and mtime for a start, digests for set-up; k.damage says
// what is not). err is set when the directory is complete but the set cannot be satisfied by this
// kernel (an unknown module): downloading the package again would not help.
func (c *cacheRun) loadKernel(pkg pkgRef, set ModuleSet) (k kernelFiles, order []ManifestModule, ok bool, err error) {
	k = kernelFiles{dir: filepath.Join(c.root, "kernel", pkg.dirName())}
	k.vmlinuz, k.vmlinux = filepath.Join(k.dir, "vmlinuz"), filepath.Join(k.dir, "vmlinux")
	b, rerr := os.ReadFile(filepath.Join(k.dir, "kernel.json"))
	if rerr != nil || json.Unmarshal(b, &k.meta) != nil || k.meta.Index == nil || k.meta.Package != pkg {
		k.meta = kernelMeta{}
		return k, nil, false, nil
	}
	order, err = k.meta.Index.loadOrder(set)
	if err != nil {
		return k, nil, false, fmt.Errorf("kernel %s: %w", pkg, err)
	}
	if k.meta.Files == nil {
		k.damage = &artifact.DamagedError{Path: k.dir, Why: "extracted by an older voidbox, without records"}
		return k, nil, false, nil
	}
	for _, m := range order {
		if _, rec := k.meta.Files[koRel(m)]; !rec {
			return k, nil, false, nil // a module not extracted yet
		}
	}
	check := k.meta.Files.Check
	if !c.lookupOnly {
		check = k.meta.Files.Verify
	}
	if k.damage = check(k.dir); k.damage != nil {
		return k, nil, false, nil
	}
	return k, order, true, nil
}

// ensureKernel returns the kernel directory for pkg with every module of set extracted, downloading
// and extracting the package when needed. Modules extracted earlier stay extracted.
func (c *cacheRun) ensureKernel(ctx context.Context, pkg pkgRef, set ModuleSet) (kernelFiles, []ManifestModule, error) {
	prev, order, ok, err := c.loadKernel(pkg, set)
	if ok || err != nil {
		return prev, order, err
	}
	if prev.damage != nil {
		if c.lookupOnly {
			return kernelFiles{}, nil, fmt.Errorf("%w: %w", ErrNotPrepared, prev.damage)
		}
		progress(c.progress, "repairing the cache: %v", prev.damage)
		if d := artifact.Damaged(prev.damage); len(d) == 1 && d[0] == prev.vmlinux {
			// vmlinuz is intact (verified): vmlinux is made from it, no download needed.
			if err := c.rebuildVmlinux(prev); err != nil {
				progress(c.progress, "rebuilding %s: %v; extracting the kernel again", prev.vmlinux, err)
			} else if k, order, ok, err := c.loadKernel(pkg, set); ok || err != nil {
				return k, order, err
			}
		}
	}
	if c.lookupOnly {
		return kernelFiles{}, nil, fmt.Errorf("%w: %s is not extracted in the cache", ErrNotPrepared, pkg)
	}
	stage, err := os.MkdirTemp(c.tmp, "kernel-")
	if err != nil {
		return kernelFiles{}, nil, err
	}
	defer os.RemoveAll(stage)
	deb, err := c.download(ctx, pkg, stage)
	if err != nil {
		return kernelFiles{}, nil, err
	}
	start := time.Now()
	progress(c.progress, "extracting %s", pkg)
	out := filepath.Join(stage, "out")
	meta, err := extractKernel(ctx, deb, filepath.Join(stage, "all"), out)
	if err != nil {
		return kernelFiles{}, nil, fmt.Errorf("extracting %s: %w", pkg, err)
	}
	meta.Package = pkg
	want := set
	want.OnDemand = append(slices.Clone(set.OnDemand), prev.meta.Extracted...)
	keep, err := meta.Index.loadOrder(want)
	if err != nil {
		return kernelFiles{}, nil, fmt.Errorf("kernel %s: %w", pkg, err)
	}
	for _, m := range keep {
		rel := filepath.FromSlash(meta.Index.Modules[m.Name].Path)
		dst := filepath.Join(out, "lib", "modules", meta.Index.Release, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return kernelFiles{}, nil, err
		}
		if err := os.Rename(filepath.Join(stage, "all", rel), dst); err != nil {
			return kernelFiles{}, nil, fmt.Errorf("keeping module %s: %w", m.Name, err)
		}
		meta.Extracted = append(meta.Extracted, m.Name)
	}
	slices.Sort(meta.Extracted)
	files := []string{"vmlinuz", "vmlinux"}
	for _, m := range keep {
		files = append(files, path.Join("lib/modules", meta.Index.Release, meta.Index.Modules[m.Name].Path))
	}
	if meta.Files, err = artifact.StampAll(out, files); err != nil {
		return kernelFiles{}, nil, fmt.Errorf("recording kernel %s: %w", pkg, err)
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return kernelFiles{}, nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "kernel.json"), b, 0o644); err != nil {
		return kernelFiles{}, nil, err
	}
	if err := replaceDir(out, prev.dir); err != nil {
		return kernelFiles{}, nil, fmt.Errorf("installing kernel %s: %w", pkg, err)
	}
	progress(c.progress, "kernel %s ready (%d modules kept) in %.1fs", meta.Index.Release, len(meta.Extracted), time.Since(start).Seconds())
	c.built = true
	k, order, ok, err := c.loadKernel(pkg, set)
	if !ok && err == nil {
		err = fmt.Errorf("kernel %s: directory incomplete right after extraction", pkg)
	}
	return k, order, err
}

// rebuildVmlinux makes k's vmlinux again from its vmlinuz and records it.
// Precondition: the cache lock is held and vmlinuz was verified.
func (c *cacheRun) rebuildVmlinux(k kernelFiles) error {
	tmp := filepath.Join(c.tmp, "vmlinux.repair")
	defer os.Remove(tmp)
	if err := buildVmlinux(k.vmlinuz, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, k.vmlinux); err != nil {
		return err
	}
	r, err := artifact.Stamp(k.vmlinux)
	if err != nil {
		return err
	}
	k.meta.Files["vmlinux"] = r
	b, err := json.Marshal(k.meta)
	if err != nil {
		return err
	}
	c.built = true
	return writeFileAtomic(c.tmp, filepath.Join(k.dir, "kernel.json"), b, 0o644)
}

// buildVmlinux decompresses the bzImage at src into an ELF at dst and checks it can boot via PVH.
func buildVmlinux(src, dst string) error {
	img, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := decompressBzImage(img, bw); err != nil {
		return fmt.Errorf("building vmlinux: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if _, err := checkPVH(f); err != nil {
		return fmt.Errorf("building vmlinux: %w", err)
	}
	return f.Close()
}

func copyToFile(dst string, r io.Reader, perm os.FileMode) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFileMkdir(dst string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
