package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/artifact"
)

// onDemand runs try, and when it fails because the host is not prepared
// (no QEMU, no guest image: ErrMissingDependency), prepares it with
// voidbox.Setup — the CLI's on-demand set-up, printing progress — and runs
// try once more — only when try produced nothing (a run that started and
// then failed is not run twice). A prepared host pays nothing: the library's lookup is
// lock-free and changes nothing.
func onDemand[T any](ctx context.Context, e *env, o voidbox.SetupOptions, try func() (T, error)) (T, error) {
	v, err := try()
	var zero T
	if !errors.Is(err, voidbox.ErrMissingDependency) || ctx.Err() != nil || any(v) != any(zero) {
		return v, err
	}
	o.Progress = e.stderr
	if damaged := artifact.Damaged(err); len(damaged) > 0 {
		fmt.Fprintf(e.stderr, "voidbox: the cache is damaged (%s): repairing it\n", strings.Join(damaged, ", "))
	}
	if _, serr := voidbox.Setup(ctx, o); serr != nil {
		return zero, fmt.Errorf("setting up this host: %w", serr)
	}
	return try()
}
