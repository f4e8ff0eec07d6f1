package guestimage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/voidbox/voidbox/internal/deb"
)

// caPackage is Debian's set of trusted CA certificates. Its bundle,
// /etc/ssl/certs/ca-certificates.crt, is made at install time by
// update-ca-certificates from the certificates the package ships; the
// image gets the same file, made here the same way (every certificate under
// usr/share/ca-certificates/, in name order: Debian's default
// /etc/ca-certificates.conf enables them all).
const caPackage = "ca-certificates"

// CABundlePath is where the image holds the bundle (relative to the root):
// where Debian's curl, OpenSSL, Python and Go look.
const CABundlePath = "etc/ssl/certs/ca-certificates.crt"

const caBundleFile = "ca-certificates.crt"

// loadCABundle returns the bundle built for pkg, if it is in the cache.
func (c *cacheRun) loadCABundle(pkg pkgRef) (string, bool) {
	p := filepath.Join(c.root, "cacerts", pkg.dirName(), caBundleFile)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// ensureCABundle builds the bundle from pkg once.
func (c *cacheRun) ensureCABundle(ctx context.Context, pkg pkgRef) (string, error) {
	if p, ok := c.loadCABundle(pkg); ok {
		return p, nil
	}
	if c.lookupOnly {
		return "", fmt.Errorf("%w: %s is not extracted in the cache", ErrNotPrepared, pkg)
	}
	stage, err := os.MkdirTemp(c.tmp, "cacerts-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	debPath, err := c.download(ctx, pkg, stage)
	if err != nil {
		return "", err
	}
	certs := map[string][]byte{}
	err = deb.Walk(ctx, debPath, func(name string, h *tar.Header, r io.Reader) error {
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(name, "usr/share/ca-certificates/") || path.Ext(name) != ".crt" {
			return nil
		}
		if h.Size > 1<<20 {
			return fmt.Errorf("%s: %d bytes is no certificate", name, h.Size)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		certs[name] = b
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("extracting %s: %w", pkg, err)
	}
	if len(certs) == 0 {
		return "", fmt.Errorf("extracting %s: no certificates under usr/share/ca-certificates", pkg)
	}
	names := make([]string, 0, len(certs))
	for n := range certs {
		names = append(names, n)
	}
	sort.Strings(names)
	var bundle bytes.Buffer
	for _, n := range names {
		b := certs[n]
		bundle.Write(b)
		if !bytes.HasSuffix(b, []byte("\n")) {
			bundle.WriteByte('\n')
		}
	}
	out := filepath.Join(stage, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(out, caBundleFile), bundle.Bytes(), 0o644); err != nil {
		return "", err
	}
	if err := replaceDir(out, filepath.Join(c.root, "cacerts", pkg.dirName())); err != nil {
		return "", fmt.Errorf("installing %s: %w", pkg, err)
	}
	c.built = true
	p, ok := c.loadCABundle(pkg)
	if !ok {
		return "", fmt.Errorf("%s: bundle missing right after building it", pkg)
	}
	return p, nil
}
