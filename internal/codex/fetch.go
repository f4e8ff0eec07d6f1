package codex

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Bounds on what the registry may send.
const (
	maxMetadata = 1 << 20
	maxTarball  = 1 << 30 // 172 MB for 0.171.0
	maxBinary   = 1 << 30 // 315 MB for 0.171.0
)

// tarball members the flavour takes, by their flavour path.
var members = map[string]string{
	"package/vendor/x86_64-unknown-linux-musl/bin/codex":     "bin/codex",
	"package/vendor/x86_64-unknown-linux-musl/codex-path/rg": "bin/rg",
}

// fetch downloads the pinned tarball into scratch, checks it against
// Integrity and unpacks the flavour's files into dir.
func fetch(ctx context.Context, o Options, dir, scratch string) error {
	want, err := sha512Of(o.integrity())
	if err != nil {
		return err
	}
	tarURL, err := resolveTarball(ctx, o)
	if err != nil {
		return err
	}
	progress(o.Progress, "downloading %s@%s", NPMPackage, PlatformVersion)
	tgz := filepath.Join(scratch, "codex.tgz")
	got, err := download(ctx, o.client(), tarURL, tgz)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", tarURL, err)
	}
	if string(got) != string(want) {
		return fmt.Errorf("%w: %s has sha512-%s, voidbox pins %s", ErrIntegrity, tarURL, base64.StdEncoding.EncodeToString(got), o.integrity())
	}
	return unpack(tgz, dir)
}

// resolveTarball reads the version manifest and returns its tarball URL,
// refusing a manifest whose integrity is not the pinned one.
func resolveTarball(ctx context.Context, o Options) (string, error) {
	u := strings.TrimSuffix(o.registry(), "/") + "/" + strings.Replace(NPMPackage, "/", "%2f", 1) + "/" + url.PathEscape(PlatformVersion)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var m struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Dist    struct {
			Tarball   string `json:"tarball"`
			Integrity string `json:"integrity"`
		} `json:"dist"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadata)).Decode(&m); err != nil {
		return "", fmt.Errorf("reading the %s@%s manifest: %w", NPMPackage, PlatformVersion, err)
	}
	switch tu, err := url.Parse(m.Dist.Tarball); {
	case m.Name != NPMPackage || m.Version != PlatformVersion:
		return "", fmt.Errorf("the registry answered %s@%s for %s@%s", m.Name, m.Version, NPMPackage, PlatformVersion)
	case m.Dist.Integrity != o.integrity():
		return "", fmt.Errorf("%w: the registry lists integrity %q for %s@%s, voidbox pins %q", ErrIntegrity, m.Dist.Integrity, NPMPackage, PlatformVersion, o.integrity())
	case err != nil || (tu.Scheme != "https" && tu.Scheme != "http") || tu.Host == "":
		return "", fmt.Errorf("%s@%s: dist.tarball %q is not an http(s) URL", NPMPackage, PlatformVersion, m.Dist.Tarball)
	}
	return m.Dist.Tarball, nil
}

// download saves u to dst and returns its sha512.
func download(ctx context.Context, c *http.Client, u, dst string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	h := sha512.New()
	n, err := writeFile(dst, io.TeeReader(io.LimitReader(resp.Body, maxTarball+1), h), 0o644)
	if err != nil {
		return nil, err
	}
	if n > maxTarball {
		return nil, fmt.Errorf("more than %d bytes", int64(maxTarball))
	}
	return h.Sum(nil), nil
}

// unpack writes the flavour's members of the verified tarball into dir.
func unpack(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("unpacking the npm tarball: %w", err)
	}
	tr := tar.NewReader(zr)
	found := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("unpacking the npm tarball: %w", err)
		}
		rel, ok := members[hdr.Name]
		if !ok {
			continue
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size > maxBinary {
			return fmt.Errorf("unpacking the npm tarball: %s is not a regular file under %d bytes", hdr.Name, int64(maxBinary))
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if _, err := writeFile(dst, io.LimitReader(tr, maxBinary), 0o755); err != nil {
			return fmt.Errorf("unpacking %s: %w", hdr.Name, err)
		}
		found++
	}
	if found != len(members) {
		return fmt.Errorf("unpacking the npm tarball: %d of the %d files voidbox needs are in it", found, len(members))
	}
	return nil
}

// writeFile creates path with perm and copies r into it.
func writeFile(path string, r io.Reader, perm os.FileMode) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return n, err
	}
	return n, f.Close()
}

// sha512Of decodes an SRI "sha512-…" string.
func sha512Of(sri string) ([]byte, error) {
	alg, b64, ok := strings.Cut(sri, "-")
	sum, err := base64.StdEncoding.DecodeString(b64)
	if !ok || alg != "sha512" || err != nil || len(sum) != sha512.Size {
		return nil, fmt.Errorf("%w: %q is not a sha512 integrity", ErrIntegrity, sri)
	}
	return sum, nil
}
