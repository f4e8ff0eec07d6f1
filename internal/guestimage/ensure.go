package guestimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/voidbox/voidbox/internal/deb"
	"github.com/voidbox/voidbox/internal/filelock"
)

// formatVersion is part of every initramfs digest. Bump it when the image layout changes in a way
// the other inputs do not capture (new files, different manifest shape).
const formatVersion = 2

const (
	kernelMetapackage = "linux-image-amd64"
	busyboxPackage    = "busybox-static"
)

// cacheRun is the state of one Ensure call. It exists only while the cache lock is held.
type cacheRun struct {
	root, tmp  string
	src        deb.Source
	progress   io.Writer
	refresh    bool
	state      resolvedState
	stateDirty bool
	sizes      map[pkgRef]int64 // .deb sizes apt reported, for progress lines
	built      bool             // something was downloaded or built
	lookupOnly bool             // Lookup: use what is there, build nothing, no lock
	used       []string         // archives this run returned or built from; never pruned by it
	index      *cacheIndex      // records of archives and kept packages
	indexDirty bool
	memo       *digestMemo // digests of inputs outside the cache
}

// ErrNotPrepared reports a guest image that set-up has not built (or has
// built for other inputs): Lookup does not build it.
var ErrNotPrepared = errors.New("guest image not prepared")

// Lookup returns the artifacts Ensure would return for o when they are all
// in the cache already, without downloading, building, locking or changing
// anything (files are written atomically, so a half-built file is never
// seen). Otherwise the error wraps ErrNotPrepared.
func Lookup(ctx context.Context, o Options) (*Artifacts, error) {
	if o.GuestInit == "" {
		return nil, errors.New("guest image: no guest init binary given")
	}
	initBin, err := absPath(o.GuestInit)
	if err != nil {
		return nil, err
	}
	root, err := CacheRoot(o.CacheDir)
	if err != nil {
		return nil, err
	}
	c := &cacheRun{root: root, tmp: filepath.Join(root, "tmp"), state: loadState(root), sizes: map[pkgRef]int64{},
		lookupOnly: true, index: loadIndex(root), memo: loadMemo(root, false)}
	initDigest, err := c.memo.digest(initBin)
	if err != nil {
		return nil, fmt.Errorf("guest image: reading guest init: %w", err)
	}
	a, err := c.ensure(withMemo(ctx, c.memo), o, initBin, initDigest)
	if err != nil {
		return nil, fmt.Errorf("guest image: %w", err)
	}
	return a, nil
}

// Ensure makes sure the kernel, modules, busybox and initramfs for o are in the cache, building what
// is missing, and returns their paths. It holds an exclusive lock on the cache while it works, so
// concurrent calls (in one process or several) build once and return the same files.
func Ensure(ctx context.Context, o Options) (*Artifacts, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("guest image: %w", err)
	}
	if o.GuestInit == "" {
		return nil, errors.New("guest image: no guest init binary given")
	}
	initBin, err := absPath(o.GuestInit)
	if err != nil {
		return nil, err
	}
	root, err := CacheRoot(o.CacheDir)
	if err != nil {
		return nil, err
	}
	if err := prepareCacheRoot(root); err != nil {
		return nil, err
	}
	lock, err := filelock.Acquire(ctx, filepath.Join(root, "lock"), func() {
		progress(o.Progress, "waiting for another voidbox set-up to finish with %s", root)
	})
	if err != nil {
		return nil, fmt.Errorf("guest image: %w", err)
	}
	defer lock.Close()

	c := &cacheRun{
		root: root, tmp: filepath.Join(root, "tmp"), src: o.Packages, progress: o.Progress,
		refresh: o.Refresh, state: loadState(root), sizes: map[pkgRef]int64{},
		index: loadIndex(root), memo: loadMemo(root, true),
	}
	if c.src == nil {
		c.src = &deb.Apt{Progress: o.Progress}
	}
	c.clearTmp()
	initDigest, err := c.memo.digest(initBin)
	if err != nil {
		return nil, fmt.Errorf("guest image: reading guest init: %w", err)
	}
	a, err := c.ensure(withMemo(ctx, c.memo), o, initBin, initDigest)
	// What was written is recorded even when a later step failed.
	if serr := c.saveRecords(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("guest image: %w", err)
	}
	if c.stateDirty {
		if err := c.state.save(root, c.tmp); err != nil {
			return nil, fmt.Errorf("guest image: recording package versions: %w", err)
		}
	}
	if c.refresh {
		c.pruneUnrecorded()
	}
	pruneArchives(c.index, root, filepath.Join(root, "initramfs"), keepArchives, c.used)
	pruneArchives(c.index, root, filepath.Join(root, "layers"), keepArchives, c.used)
	if err := c.saveRecords(); err != nil {
		return nil, fmt.Errorf("guest image: %w", err)
	}
	return a, lock.Close()
}

func (c *cacheRun) ensure(ctx context.Context, o Options, initBin, initDigest string) (*Artifacts, error) {
	set := o.Modules
	if set.isZero() {
		set = DefaultModules()
	}
	kernelReq := o.KernelPackage
	if kernelReq == "" {
		kernelReq = os.Getenv(KernelEnv)
	}
	if kernelReq == "" {
		kernelReq = kernelMetapackage
	}

	var (
		k     kernelFiles
		order []ManifestModule
		bb    busyboxFiles
		ca    string
	)
	var kernelKey any
	kernelName := ""
	if pk := o.Prebuilt; pk != nil {
		if pk.Vmlinux == "" || pk.Release == "" || pk.ID == "" {
			return nil, fmt.Errorf("prebuilt kernel: vmlinux, release and ID are all needed (got %+v)", *pk)
		}
		if _, err := os.Stat(pk.Vmlinux); err != nil {
			return nil, fmt.Errorf("prebuilt kernel: %w", err)
		}
		k = kernelFiles{vmlinux: pk.Vmlinux, builtin: true, meta: kernelMeta{Index: &moduleIndex{Release: pk.Release}}}
		set = ModuleSet{}
		kernelKey, kernelName = "prebuilt:"+pk.ID, pk.ID
	} else {
		kpkg, err := c.withPackage(ctx, kernelReq, true, func(p pkgRef) (err error) {
			k, order, err = c.ensureKernel(ctx, p, set)
			return err
		})
		if err != nil {
			return nil, err
		}
		kernelKey, kernelName = kpkg, kpkg.String()
	}
	bpkg, err := c.withPackage(ctx, busyboxPackage, false, func(p pkgRef) (err error) {
		bb, err = c.ensureBusybox(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}

	cpkg, err := c.withPackage(ctx, caPackage, false, func(p pkgRef) (err error) {
		ca, err = c.ensureCABundle(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}

	// "agent" is the guest init's digest; the key keeps its old name so
	// that existing caches stay valid.
	baseKey := digestOf(map[string]any{
		"format": formatVersion, "kernel": kernelKey, "busybox": bpkg, "agent": initDigest, "modules": set, "cacerts": cpkg,
	})
	base, err := c.ensureArchive(ctx, "base", baseKey, func() (*Tree, error) { return baseTree(initBin, k, order, bb, ca) })
	if err != nil {
		return nil, fmt.Errorf("building initramfs: %w", err)
	}
	parts := []string{base}
	keys := []string{baseKey}
	for _, l := range o.Layers {
		p, key, err := c.ensureLayer(ctx, l)
		if err != nil {
			return nil, err
		}
		parts, keys = append(parts, p), append(keys, key)
	}
	// Without layers the digest is the base archive's own key, which is also its file name.
	digest, initramfs := baseKey, base
	if len(o.Layers) > 0 {
		digest = digestOf(keys)
		if initramfs, err = c.concat(digest, parts); err != nil {
			return nil, fmt.Errorf("joining initramfs layers: %w", err)
		}
	}
	return &Artifacts{
		Kernel: k.vmlinux, BzImage: k.vmlinuz, KernelRelease: k.meta.Index.Release,
		KernelPackage: kernelName, Busybox: bpkg.String(), BusyboxBinary: bb.binary, CACertificates: cpkg.String(),
		Initramfs: initramfs, Digest: digest,
		CacheDir: c.root, Modules: order, Cached: !c.built,
	}, nil
}

var layerName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ensureLayer returns the cached archive of l, populating it when its key is new.
func (c *cacheRun) ensureLayer(ctx context.Context, l Layer) (string, string, error) {
	name := l.Name()
	if !layerName.MatchString(name) {
		return "", "", fmt.Errorf("layer name %q: want lowercase letters, digits, '.', '_' or '-'", name)
	}
	key, err := l.Key(ctx)
	if err != nil {
		return "", "", fmt.Errorf("layer %s: %w", name, err)
	}
	key = digestOf(map[string]any{"format": formatVersion, "layer": name, "key": key})
	p, err := c.ensureArchive(ctx, name, key, func() (*Tree, error) { return layerTree(ctx, l) })
	if err != nil {
		return "", "", fmt.Errorf("layer %s: %w", name, err)
	}
	return p, key, nil
}

// ensureArchive returns layers/<name>-<key>.cpio.gz (initramfs/<key>.cpio.gz for the base),
// writing it from the tree fill returns when it does not exist yet.
func (c *cacheRun) ensureArchive(ctx context.Context, name, key string, fill func() (*Tree, error)) (string, error) {
	p := filepath.Join(c.root, "layers", name+"-"+key+".cpio.gz")
	if name == "base" {
		p = filepath.Join(c.root, "initramfs", key+".cpio.gz")
	}
	c.used = append(c.used, p)
	if ok, err := c.reuse(p); ok || err != nil {
		return p, err
	}
	if c.lookupOnly {
		return "", fmt.Errorf("%w: no %s archive %s", ErrNotPrepared, name, shortDigest(key))
	}
	start := time.Now()
	t, err := fill()
	if err != nil {
		return "", err
	}
	if err := writeAtomic(c.tmp, p, 0o644, func(w io.Writer) error { return t.WriteTo(ctx, w) }); err != nil {
		return "", err
	}
	if err := c.record(p); err != nil {
		return "", err
	}
	c.built = true
	progress(c.progress, "built %s archive %s in %.1fs", name, shortDigest(key), time.Since(start).Seconds())
	return p, nil
}

// concat writes initramfs/<digest>.cpio.gz as the base archive followed by the layers' archives.
func (c *cacheRun) concat(digest string, parts []string) (_ string, err error) {
	p := filepath.Join(c.root, "initramfs", digest+".cpio.gz")
	c.used = append(c.used, p)
	if ok, err := c.reuse(p); ok || err != nil {
		return p, err
	}
	if c.lookupOnly {
		return "", fmt.Errorf("%w: no initramfs %s", ErrNotPrepared, shortDigest(digest))
	}
	c.built = true
	defer func() {
		if err == nil {
			err = c.record(p)
		}
	}()
	return p, writeAtomic(c.tmp, p, 0o644, func(w io.Writer) error {
		for _, part := range parts {
			f, err := os.Open(part)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// reuse reports whether the archive at p exists and is intact. A damaged
// one is an error for a start (which must not boot it); set-up removes it
// and builds it again.
func (c *cacheRun) reuse(p string) (bool, error) {
	if _, err := os.Stat(p); err != nil {
		return false, nil
	}
	err := c.intact(p)
	switch {
	case err == nil:
		if !c.lookupOnly {
			c.markUsed(p)
		}
		return true, nil
	case c.lookupOnly:
		return false, fmt.Errorf("%w: %w", ErrNotPrepared, err)
	}
	progress(c.progress, "repairing the cache: %v", err)
	os.Remove(p)
	return false, nil
}

// saveRecords writes the index and the digest memo when they changed.
// Precondition: the cache lock is held.
func (c *cacheRun) saveRecords() error {
	if c.indexDirty {
		if err := c.index.save(c.root, c.tmp); err != nil {
			return fmt.Errorf("recording the cache's files: %w", err)
		}
		c.indexDirty = false
	}
	return c.memo.save(c.root, c.tmp)
}

// clearTmp removes staging left by a run that died. Precondition: the cache lock is held.
func (c *cacheRun) clearTmp() {
	entries, _ := os.ReadDir(c.tmp)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(c.tmp, e.Name()))
	}
}

// digestOf is the hex sha256 of v's JSON encoding (map keys are sorted, so it is canonical).
func digestOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("digest of unencodable value: %v", err)) // only called with plain data
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FileDigest is the hex sha256 of a file's content.
func FileDigest(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
