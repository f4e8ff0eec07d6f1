package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/vmm"
	"github.com/voidbox/voidbox/internal/wire"
)

// ImageStore resolves OCI references to read-only root file system images
// for one boot. internal/imagedisk implements it over the OCI cache; the
// sandbox only needs the files and a hold on them.
type ImageStore interface {
	// Open returns the built root file system of ref, held (rm and prune
	// refuse it) until the disk's Release. An image that is not in the
	// cache is an error wrapping ErrMissingDependency that says how to get
	// it.
	Open(ctx context.Context, ref string) (*ImageDisk, error)
}

// ImageDisk is one OCI image as a read-only erofs disk.
type ImageDisk struct {
	Ref    string
	Digest string
	Path   string // the erofs file on the host
	// Env, WorkingDir and User are the image config's.
	Env        []string
	WorkingDir string
	User       string
	// Release gives the hold up; Boot calls it when the VM is gone.
	Release func() error
}

// ImageMount is an OCI image mounted read-only at a guest path (an OCI
// skill), from the same store as the root.
type ImageMount struct {
	Ref  string
	Path string // absolute guest path
	// OnPath appends Path/bin to every command's PATH (after the image's
	// or the policy's own, so a skill cannot shadow the system's tools).
	OnPath bool
}

// storage is what one boot attaches, resolved.
type storage struct {
	disks  []vmm.Disk
	shares []vmm.Share
	wire   wire.Storage
	root   *ImageDisk
	held   []*ImageDisk
}

// preload is the kernel command-line word naming the modules the guest
// will load for this storage, so it loads them during boot.
func (st *storage) preload() []string {
	var mods []string
	if st.wire.Root != nil || len(st.wire.Images) > 0 {
		mods = append(mods, "virtio_blk", "erofs")
	}
	if st.wire.Root != nil {
		mods = append(mods, "overlay")
	}
	if len(st.wire.Shares) > 0 {
		mods = append(mods, "virtiofs")
	}
	if len(mods) == 0 {
		return nil
	}
	return []string{wire.PreloadParam + "=" + strings.Join(mods, ",")}
}

// release gives up every image hold. Idempotent.
func (st *storage) release() {
	for _, d := range st.held {
		if d.Release != nil {
			_ = d.Release()
		}
	}
	st.held = nil
}

// prepareStorage checks the mounts' host paths, opens the images (the
// root and the image mounts) and names every disk and share. On error
// nothing is held.
func prepareStorage(ctx context.Context, cfg Config) (_ *storage, err error) {
	st := &storage{}
	defer func() {
		if err != nil {
			st.release()
		}
	}()
	if err := checkMounts(cfg.Policy.Mounts, cfg.ImageMounts); err != nil {
		return nil, err
	}
	open := func(ref string) (*ImageDisk, error) {
		if cfg.Images == nil {
			return nil, fmt.Errorf("%w: image %s: no OCI image store configured", ErrInvalid, ref)
		}
		d, err := cfg.Images.Open(ctx, ref)
		if err != nil {
			return nil, err
		}
		st.held = append(st.held, d)
		return d, nil
	}
	if ref := cfg.Policy.Image; ref != "" {
		d, err := open(ref)
		if err != nil {
			return nil, err
		}
		st.root = d
		st.disks = append(st.disks, vmm.Disk{Serial: "root", Path: d.Path})
		st.wire.Root = &wire.Disk{Serial: "root"}
	}
	for i, im := range cfg.ImageMounts {
		d, err := open(im.Ref)
		if err != nil {
			return nil, err
		}
		serial := "img" + strconv.Itoa(i)
		st.disks = append(st.disks, vmm.Disk{Serial: serial, Path: d.Path})
		st.wire.Images = append(st.wire.Images, wire.DiskMount{Serial: serial, Path: im.Path})
	}
	for i, m := range cfg.Policy.Mounts {
		tag := "vbmnt" + strconv.Itoa(i)
		st.shares = append(st.shares, vmm.Share{Tag: tag, HostPath: m.Host, ReadOnly: !m.Writable(), Protocol: vmm.VirtioFS})
		st.wire.Shares = append(st.wire.Shares, wire.Share{Tag: tag, Path: m.Guest, ReadOnly: !m.Writable()})
	}
	return st, nil
}

// checkMounts refuses host mounts whose directory is missing (a typo must
// not become an empty mount, or a directory created somewhere) and image
// mounts that collide with a host mount.
func checkMounts(mounts []policy.Mount, images []ImageMount) error {
	var errs []error
	for i, m := range mounts {
		fi, err := os.Stat(m.Host)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("mounts[%d].host: %s: %w", i, m.Host, err))
		} else if !fi.IsDir() {
			errs = append(errs, fmt.Errorf("mounts[%d].host: %s is not a directory", i, m.Host))
		}
	}
	for i, im := range images {
		if err := policy.CheckGuestMountPath(im.Path); err != nil {
			errs = append(errs, fmt.Errorf("image mount %d (%s): %w", i, im.Ref, err))
			continue
		}
		for j, m := range mounts {
			if policy.Overlaps(im.Path, m.Guest) {
				errs = append(errs, fmt.Errorf("image %s at %s overlaps mounts[%d] (%s)", im.Ref, im.Path, j, m.Guest))
			}
		}
		for _, o := range images[:i] {
			if policy.Overlaps(im.Path, o.Path) {
				errs = append(errs, fmt.Errorf("images %s and %s both at %s", o.Ref, im.Ref, im.Path))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// imageEnv is the part of an image's Env that applies to the sandbox
// user: HOME, USER and LOGNAME describe the image's own user, whom voidbox
// does not run as.
func imageEnv(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		switch k {
		case "HOME", "USER", "LOGNAME":
			continue
		}
		m[k] = v
	}
	return m
}

// imageDir is the image's WorkingDir when it names a directory other
// than "/" (which images use to mean "not set"); voidbox's default,
// /workspace, applies otherwise.
func imageDir(d *ImageDisk) string {
	if d == nil || d.WorkingDir == "" || path.Clean(d.WorkingDir) == "/" || !path.IsAbs(d.WorkingDir) {
		return ""
	}
	return path.Clean(d.WorkingDir)
}

// commandPath is PATH for every command: the image's or the policy's (or
// the guest's default) with the bin directories of OnPath image mounts
// appended.
func commandPath(env map[string]string, images []ImageMount) (string, bool) {
	bins := trustedDirs(images)
	if len(bins) == 0 {
		return "", false
	}
	base, ok := env["PATH"]
	if !ok {
		base = wire.DefaultPath
	}
	return strings.Join(append([]string{base}, bins...), ":"), true
}

// trustedDirs are the bin/ directories of OnPath image mounts, which the
// allowlist trusts as it does the system's: they are read-only images.
func trustedDirs(images []ImageMount) []string {
	var out []string
	for _, im := range images {
		if im.OnPath {
			out = append(out, path.Join(im.Path, "bin"))
		}
	}
	return out
}
