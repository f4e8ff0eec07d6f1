package guestimage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/voidbox/voidbox/internal/deb"
)

// resolvedState is resolved.json: for each requested package name, the concrete package and version
// apt chose last time. Reusing it keeps a warm Ensure free of apt calls (and of network), and pins
// the guest to what was tested until the user asks for a refresh.
type resolvedState map[string]pkgRef

func loadState(root string) resolvedState {
	st := resolvedState{}
	b, err := os.ReadFile(filepath.Join(root, "resolved.json"))
	if err == nil && json.Unmarshal(b, &st) == nil {
		return st
	}
	return resolvedState{}
}

func (st resolvedState) save(root, tmp string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(tmp, filepath.Join(root, "resolved.json"), append(b, '\n'), 0o644)
}

// resolve returns the concrete package for a request. kernel requests follow the metapackage to the
// versioned linux-image package it depends on.
func (c *cacheRun) resolve(ctx context.Context, request string, kernel bool) (pkgRef, error) {
	if ref, ok := c.state[request]; ok && !c.refresh {
		return ref, nil
	}
	if c.lookupOnly {
		return pkgRef{}, fmt.Errorf("%w: set-up has not resolved %s yet", ErrNotPrepared, request)
	}
	info, err := c.src.Show(ctx, request)
	if err != nil {
		return pkgRef{}, err
	}
	if kernel && !concreteKernel.MatchString(info.Name) {
		var concrete string
		for _, d := range info.Depends {
			if concreteKernel.MatchString(d) {
				concrete = d
				break
			}
		}
		if concrete == "" {
			return pkgRef{}, fmt.Errorf("%s %s depends on no versioned linux-image package (depends: %v); set VOIDBOX_KERNEL_PACKAGE",
				request, info.Version, info.Depends)
		}
		if info, err = c.src.Show(ctx, concrete); err != nil {
			return pkgRef{}, err
		}
	}
	ref := pkgRef{Name: info.Name, Version: info.Version}
	if prev, ok := c.state[request]; !ok || prev != ref {
		c.state[request] = ref
		c.stateDirty = true
	}
	c.sizes[ref] = info.Size
	return ref, nil
}

// download returns pkg's .deb: the copy kept in debs/ when it is intact, else a fresh download into
// dir, which is then kept (so that repairing a damaged kernel or adding a module needs no network).
// A version recorded earlier may have left the archive (a security update replaces it); then the
// error says to refresh.
func (c *cacheRun) download(ctx context.Context, pkg pkgRef, dir string) (string, error) {
	if c.lookupOnly {
		return "", fmt.Errorf("%w: %s is not extracted in the cache", ErrNotPrepared, pkg)
	}
	kept := filepath.Join(c.root, "debs", pkg.dirName()+".deb")
	if _, err := os.Stat(kept); err == nil {
		if err := c.intact(kept); err == nil {
			progress(c.progress, "using %s kept in the cache", pkg)
			c.markUsed(kept)
			return kept, nil
		} else {
			progress(c.progress, "repairing the cache: %v", err)
			os.Remove(kept)
		}
	}
	debPath, err := c.fetch(ctx, pkg, dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(debPath, kept); err != nil {
		return "", fmt.Errorf("keeping %s: %w", pkg, err)
	}
	return kept, c.record(kept)
}

// fetch downloads pkg into dir through the package source.
func (c *cacheRun) fetch(ctx context.Context, pkg pkgRef, dir string) (string, error) {
	size := ""
	if n := c.sizes[pkg]; n > 0 {
		size = fmt.Sprintf(" (%.1f MB)", float64(n)/1e6)
	}
	progress(c.progress, "downloading %s%s", pkg, size)
	c.built = true
	start := time.Now()
	debPath, err := c.src.Download(ctx, pkg.Name, pkg.Version, dir)
	if err == nil {
		progress(c.progress, "downloaded %s in %.1fs", pkg.Name, time.Since(start).Seconds())
	}
	return debPath, err
}

// withPackage resolves request and runs step on it. When step cannot download a version recorded by
// an earlier run (a security update replaced it in the archive), it resolves afresh and tries once more.
func (c *cacheRun) withPackage(ctx context.Context, request string, kernel bool, step func(pkgRef) error) (pkgRef, error) {
	_, recorded := c.state[request]
	recorded = recorded && !c.refresh
	ref, err := c.resolve(ctx, request, kernel)
	if err != nil {
		return ref, err
	}
	err = step(ref)
	if !errors.Is(err, deb.ErrNotFound) || !recorded {
		return ref, err
	}
	progress(c.progress, "%s is no longer in the archive; resolving %s again", ref, request)
	delete(c.state, request)
	if ref, err = c.resolve(ctx, request, kernel); err != nil {
		return ref, err
	}
	return ref, step(ref)
}
