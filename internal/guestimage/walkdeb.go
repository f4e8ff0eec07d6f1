package guestimage

import (
	"archive/tar"
	"context"
	"io"
)

// WalkDeb streams the data archive of the .deb at debPath (xz, gzip or
// plain tar) and calls fn for every entry, with the entry's cleaned
// relative name ("usr/bin/curl"; "." and names climbing out are skipped)
// and a reader of its contents. Exported for builders of whole images from
// Debian packages (internal/toolbox).
func WalkDeb(ctx context.Context, debPath string, fn func(name string, h *tar.Header, r io.Reader) error) error {
	return walkDeb(ctx, debPath, fn)
}
