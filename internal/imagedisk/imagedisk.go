// Package imagedisk gives boots OCI images as read-only disks: it
// implements sandbox.ImageStore over the OCI cache (internal/oci). Opening
// an image takes a lease on it (rm and prune leave it alone until the VM is
// gone) and returns its built erofs root file system. It never pulls or
// builds: a boot changes nothing in the cache but the image's last use, so
// a missing image is an error saying what to run (the CLI runs it).
package imagedisk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/rootfs"
	"github.com/voidbox/voidbox/internal/sandbox"
)

// Store opens images from the cache below one cache root.
type Store struct {
	cacheDir string

	once  sync.Once
	store *oci.Store // opened on first use: a host that never boots an image never creates the cache
	err   error
}

var _ sandbox.ImageStore = (*Store)(nil)

// New returns the store of the cache root cacheDir ("" as
// guestimage.CacheRoot).
func New(cacheDir string) *Store { return &Store{cacheDir: cacheDir} }

func (s *Store) open() (*oci.Store, error) {
	s.once.Do(func() { s.store, s.err = oci.Open(s.cacheDir) })
	return s.store, s.err
}

// MissingError is an image a boot needs that the cache lacks, or whose
// root file system is not built yet. It wraps sandbox.ErrMissingDependency.
type MissingError struct {
	Ref string
	// Pulled says the image is cached but its root file system is not built.
	Pulled bool
}

func (e *MissingError) Error() string {
	if e.Pulled {
		return fmt.Sprintf("image %s has no root file system yet (build it: voidbox image pull %s)", e.Ref, e.Ref)
	}
	if Local(e.Ref) {
		return fmt.Sprintf("image %s is not in the image cache (build it: voidbox image build toolbox)", e.Ref)
	}
	return fmt.Sprintf("image %s is not in the image cache (pull it: voidbox image pull %s)", e.Ref, e.Ref)
}

// Is makes errors.Is(err, sandbox.ErrMissingDependency) true.
func (e *MissingError) Is(target error) bool { return target == sandbox.ErrMissingDependency }

// Local reports whether ref names an image built on this host.
func Local(ref string) bool {
	r, err := oci.ParseRef(ref)
	return err == nil && r.Context().RegistryStr() == oci.LocalRegistry
}

// Open leases ref's image and returns its erofs root file system.
func (s *Store) Open(ctx context.Context, ref string) (*sandbox.ImageDisk, error) {
	if !strings.HasPrefix(ref, "sha256:") {
		if _, err := oci.ParseRef(ref); err != nil {
			return nil, fmt.Errorf("%w: %w", sandbox.ErrInvalid, err)
		}
	}
	st, err := s.open()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	lease, err := st.Use(ctx, ref)
	if errors.Is(err, oci.ErrNotFound) {
		return nil, &MissingError{Ref: ref}
	}
	if errors.Is(err, oci.ErrInvalid) {
		return nil, fmt.Errorf("%w: image %s: %w", sandbox.ErrInvalid, ref, err)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	im := lease.Image
	rf, ok := im.RootFS[string(rootfs.Erofs)]
	if !ok {
		lease.Close()
		return nil, &MissingError{Ref: ref, Pulled: true}
	}
	return &sandbox.ImageDisk{Ref: ref, Digest: im.Digest, Path: rf.Path, Env: im.Env,
		WorkingDir: im.WorkingDir, User: im.User, Release: lease.Close}, nil
}
