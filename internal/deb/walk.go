package deb

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/therootcompany/xz"
)

// Walk streams the data archive of the .deb at debPath and calls fn for every entry, with the
// entry's cleaned relative name ("usr/bin/curl"; "." and names climbing out of the root are
// skipped) and a reader of its contents, valid until fn returns. It checks ctx between entries.
func Walk(ctx context.Context, debPath string, fn func(name string, h *tar.Header, r io.Reader) error) error {
	f, err := os.Open(debPath)
	if err != nil {
		return err
	}
	defer f.Close()
	ar, err := newArReader(f)
	if err != nil {
		return fmt.Errorf("reading %s: %w", debPath, err)
	}
	for {
		name, _, err := ar.Next()
		if err == io.EOF {
			return fmt.Errorf("reading %s: no data.tar member", debPath)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", debPath, err)
		}
		if !strings.HasPrefix(name, "data.tar") {
			continue
		}
		data, err := decompressor(name, ar)
		if err != nil {
			return fmt.Errorf("reading %s: %w", debPath, err)
		}
		if err := walkTar(ctx, data, fn); err != nil {
			return fmt.Errorf("reading %s: %s: %w", debPath, name, err)
		}
		return nil
	}
}

// decompressor picks the reader for a data.tar member by its suffix. Debian uses xz; gzip and plain
// tar are allowed by deb(5) and cheap to support.
func decompressor(member string, r io.Reader) (io.Reader, error) {
	switch path.Ext(member) {
	case ".tar":
		return r, nil
	case ".xz":
		return xz.NewReader(r, 0)
	case ".gz":
		return gzip.NewReader(r)
	default:
		return nil, fmt.Errorf("%s: unsupported compression %q (voidbox reads xz, gzip and plain tar)", member, path.Ext(member))
	}
}

func walkTar(ctx context.Context, r io.Reader, fn func(name string, h *tar.Header, r io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || !isLocalSlash(name) {
			continue
		}
		if err := fn(name, h, tr); err != nil {
			return err
		}
	}
}

// isLocalSlash reports whether a slash-separated name stays inside its root (no "..", not absolute).
func isLocalSlash(name string) bool {
	return name != ".." && !strings.HasPrefix(name, "../") && !strings.HasPrefix(name, "/")
}
