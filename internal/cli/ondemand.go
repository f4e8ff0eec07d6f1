package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/artifact"
	"github.com/voidbox/voidbox/internal/codex"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/toolbox"
)

// onDemand runs try, and when it fails because the host is not prepared
// (ErrMissingDependency), prepares it and runs try once more — only when
// try produced nothing (a run that started and then failed is not run
// twice). What is missing decides the preparation: OCI images a box needs
// are pulled (the toolbox image is built), a missing codex runtime is
// fetched, anything else (no QEMU, no
// guest image) is voidbox.Setup — the CLI's on-demand set-up, printing
// progress. A prepared host pays nothing: the library's lookup is
// lock-free and changes nothing.
func onDemand[T any](ctx context.Context, e *env, o voidbox.SetupOptions, try func() (T, error)) (T, error) {
	v, err := try()
	var zero T
	for fixes := 0; fixes < 2; fixes++ {
		if !errors.Is(err, voidbox.ErrMissingDependency) || ctx.Err() != nil || any(v) != any(zero) {
			return v, err
		}
		if refs := missingImages(err); len(refs) > 0 {
			if perr := pullImages(ctx, e, o.CacheDir, refs); perr != nil {
				return zero, perr
			}
		} else if errors.Is(err, codex.ErrImageMissing) {
			fmt.Fprintf(e.stderr, "voidbox: the codex runtime is not in the cache yet; fetching it (voidbox image build codex)\n")
			if _, cerr := codex.Build(ctx, codex.Options{CacheDir: o.CacheDir, Progress: e.stderr}); cerr != nil {
				return zero, cerr
			}
		} else {
			o.Progress = e.stderr
			if damaged := artifact.Damaged(err); len(damaged) > 0 {
				fmt.Fprintf(e.stderr, "voidbox: the cache is damaged (%s): repairing it\n", strings.Join(damaged, ", "))
			}
			if _, serr := voidbox.Setup(ctx, o); serr != nil {
				return zero, fmt.Errorf("setting up this host: %w", serr)
			}
		}
		v, err = try()
	}
	return v, err
}

// missingImages lists the images err says are missing, in order.
func missingImages(err error) []string {
	var refs []string
	var walk func(error)
	walk = func(err error) {
		var m *voidbox.MissingImageError
		if errors.As(err, &m) && !slices.Contains(refs, m.Ref) {
			refs = append(refs, m.Ref)
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				walk(next)
			}
		}
	}
	walk(err)
	return refs
}

// pullImages pulls refs (or builds the toolbox image) into the cache, with
// progress on stderr.
func pullImages(ctx context.Context, e *env, cacheDir string, refs []string) error {
	for _, ref := range refs {
		if ref == toolbox.Ref {
			fmt.Fprintf(e.stderr, "voidbox: %s is not built yet; building it (voidbox image build toolbox)\n", ref)
			if _, err := toolbox.Build(ctx, toolbox.Options{CacheDir: cacheDir, Progress: e.stderr}); err != nil {
				return ociErr(err)
			}
		} else {
			fmt.Fprintf(e.stderr, "voidbox: %s is not in the image cache; pulling it\n", ref)
		}
		if _, err := voidbox.PullImage(ctx, ref, voidbox.PullOptions{CacheDir: cacheDir, Progress: e.stderr}); err != nil {
			if errors.Is(err, oci.ErrInvalid) || errors.Is(err, voidbox.ErrInvalid) {
				return usageError{err}
			}
			return err
		}
	}
	return nil
}
