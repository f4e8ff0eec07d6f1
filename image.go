package voidbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/voidbox/voidbox/internal/imagedisk"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
)

// Mount is a host directory shared into the guest (Policy.Mounts): Host
// absolute and existing, Guest absolute, Mode ReadOnly (the default) or
// ReadWrite. Read-only is enforced on the host. Files of the user running
// voidbox appear to the guest as the sandbox user's; files the guest
// writes belong to that user on the host.
type Mount = policy.Mount

// MountMode is ReadOnly or ReadWrite.
type MountMode = policy.MountMode

// Mount modes.
const (
	ReadOnly  = policy.ReadOnly
	ReadWrite = policy.ReadWrite
)

// MissingImageError is an OCI image a box needs that the image cache does
// not have (or has not converted yet); errors.Is(err,
// ErrMissingDependency) holds. PullImage fetches it.
type MissingImageError = imagedisk.MissingError

// OCIImage boots the box from an OCI image's file system (Policy.Image):
// read-only, with a writable layer in the disk budget. The image must be
// in the cache (PullImage, `voidbox image pull`).
func (b *Box) OCIImage(ref string) *Box { b.b.Policy.Image = ref; return b }

// Mount shares a host directory into the box's VM (see Mount).
func (b *Box) Mount(host, guest string, mode MountMode) *Box {
	b.b.Policy.Mounts = append(b.b.Policy.Mounts, Mount{Host: host, Guest: guest, Mode: mode})
	return b
}

// Output declares a directory the box leaves for later boxes of its
// pipeline: a fresh host directory, mounted read-write at guest. Its host
// path is in the stage's report (StageDetail.Outputs).
func (b *Box) Output(name, guest string) *Box {
	b.b.Outputs = append(b.b.Outputs, stage.Output{Name: name, Guest: guest})
	return b
}

// Input mounts the output named from, of a box in an earlier stage,
// read-only at guest.
func (b *Box) Input(from, guest string) *Box {
	b.b.Inputs = append(b.b.Inputs, stage.Input{From: from, Guest: guest})
	return b
}

// SkillOCI declares an OCI image mounted read-only at mount in the box's
// VM (any box, command or agent): its bin/ is appended to every command's
// PATH, and for an agent its SKILL.md, if it has one, is a skill read like
// a SkillFile's. mount "" means /skills/NAME, NAME being the repository's
// last path element.
func SkillOCI(ref, mount string) Skill {
	if mount == "" {
		r, err := oci.ParseRef(ref)
		name := ref
		if err == nil {
			name = path.Base(r.Context().RepositoryStr())
		}
		mount = "/skills/" + name
	}
	return Skill{image: &stage.ImageSkill{Ref: ref, Mount: mount}}
}

// PullOptions tune PullImage.
type PullOptions struct {
	CacheDir string    // the artifact cache (default as HostOptions.CacheDir)
	Progress io.Writer // per-layer progress (bars on a terminal); nil is silent
}

// ImageInfo describes a cached image.
type ImageInfo struct {
	Ref    string
	Digest string
	Size   int64  // manifest, config and compressed layers
	RootFS string // the built erofs root file system
}

// PullImage fetches ref (linux/amd64, every blob digest-verified) into the
// image cache and builds its read-only root file system, so boxes can boot
// from it or mount it. Credentials come from the docker config and its
// credential helpers; plain HTTP is used only for localhost registries.
// Images built on this host (voidbox.local/...) are not pulled: an error
// says how to build them.
func PullImage(ctx context.Context, ref string, o PullOptions) (*ImageInfo, error) {
	s, err := oci.Open(o.CacheDir)
	if err != nil {
		return nil, err
	}
	var im *oci.Image
	if imagedisk.Local(ref) {
		if im, err = s.Inspect(ref); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMissingDependency, &MissingImageError{Ref: ref})
		}
	} else if im, err = s.Pull(ctx, ref, oci.PullOptions{Progress: o.Progress}); err != nil {
		if errors.Is(err, oci.ErrInvalid) {
			err = fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return nil, err
	}
	rf, err := s.BuildRootFS(ctx, im.Digest, oci.RootFSOptions{Progress: o.Progress}) // erofs, what boots use
	if err != nil {
		return nil, err
	}
	return &ImageInfo{Ref: ref, Digest: im.Digest, Size: im.Size, RootFS: rf.Path}, nil
}

// checkImages opens (and releases) every image the stages need, so a
// missing one fails the run before any VM boots, all of them at once.
func checkImages(ctx context.Context, store sandbox.ImageStore, stages map[string]stage.Staged, order []string) error {
	seen := map[string]bool{}
	var errs []error
	for _, name := range order {
		b := stages[name].Box
		refs := []string{b.Policy.Image}
		for _, im := range b.Images {
			refs = append(refs, im.Ref)
		}
		for _, ref := range refs {
			if ref == "" || seen[ref] {
				continue
			}
			seen[ref] = true
			d, err := store.Open(ctx, ref)
			if err != nil {
				errs = append(errs, fmt.Errorf("stage %q: %w", name, err))
				continue
			}
			_ = d.Release()
		}
	}
	return errors.Join(errs...)
}
