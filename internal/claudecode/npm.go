package claudecode

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
	"strings"
	"time"
)

// Bounds on what the registry may send.
const (
	maxMetadata = 1 << 20 // one version's manifest
	maxTarball  = 1 << 30 // the gzip tarball (186 MB for 2.1.332)
	maxBinary   = 2 << 30 // the unpacked binary (402 MB for 2.1.332)
)

// npmVersion is the part of a registry version manifest we use.
type npmVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dist    struct {
		Tarball   string `json:"tarball"`
		Integrity string `json:"integrity"`
	} `json:"dist"`
}

// fetchManifest gets GET <registry>/<pkg>/<version>, the manifest of one version.
func fetchManifest(ctx context.Context, c *http.Client, registry, pkg, version string) (*npmVersion, error) {
	u := strings.TrimSuffix(registry, "/") + "/" + strings.Replace(pkg, "/", "%2f", 1) + "/" + url.PathEscape(version)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s has no %s@%s", registry, pkg, version)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var m npmVersion
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadata)).Decode(&m); err != nil {
		return nil, fmt.Errorf("reading the %s@%s manifest: %w", pkg, version, err)
	}
	if m.Name != pkg || m.Version != version {
		return nil, fmt.Errorf("the registry answered %s@%s for %s@%s", m.Name, m.Version, pkg, version)
	}
	if m.Dist.Tarball == "" {
		return nil, fmt.Errorf("%s@%s: manifest has no dist.tarball", pkg, version)
	}
	tu, err := url.Parse(m.Dist.Tarball)
	if err != nil || (tu.Scheme != "https" && tu.Scheme != "http") || tu.Host == "" {
		return nil, fmt.Errorf("%s@%s: dist.tarball %q is not an http(s) URL", pkg, version, m.Dist.Tarball)
	}
	return &m, nil
}

// sha512Integrity returns the sha512 digest of an SRI string such as
// "sha512-f4JW…==" (npm's dist.integrity). Weaker algorithms are not
// accepted.
func sha512Integrity(sri string) ([]byte, error) {
	for _, f := range strings.Fields(sri) {
		alg, b64, ok := strings.Cut(f, "-")
		if !ok || alg != "sha512" {
			continue
		}
		b64, _, _ = strings.Cut(b64, "?") // SRI options
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && len(sum) == sha512.Size {
			return sum, nil
		}
	}
	return nil, fmt.Errorf("%w: no sha512 in integrity %q", ErrIntegrity, sri)
}

// downloadTarball saves the tarball to dst, hashing it on the way, and
// checks the hash against the registry's integrity. Nothing unpacks the
// tarball before that check passes.
func downloadTarball(ctx context.Context, c *http.Client, m *npmVersion, dst string, w io.Writer) error {
	want, err := sha512Integrity(m.Dist.Integrity)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Dist.Tarball, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", m.Dist.Tarball, resp.Status)
	}
	if resp.ContentLength > maxTarball {
		return fmt.Errorf("%s is %d bytes, more than the %d allowed", m.Dist.Tarball, resp.ContentLength, int64(maxTarball))
	}
	h := sha512.New()
	counted := newMeter(w, fmt.Sprintf("downloading %s@%s", m.Name, m.Version), resp.ContentLength)
	body := io.TeeReader(io.LimitReader(resp.Body, maxTarball+1), io.MultiWriter(h, counted))
	if err := writeFile(dst, body, 0o644); err != nil {
		return fmt.Errorf("downloading %s: %w", m.Dist.Tarball, err)
	}
	if counted.n > maxTarball {
		return fmt.Errorf("%s is more than %d bytes", m.Dist.Tarball, int64(maxTarball))
	}
	counted.done()
	if got := h.Sum(nil); string(got) != string(want) {
		return fmt.Errorf("%w: %s: sha512 %s, registry says %s", ErrIntegrity, m.Dist.Tarball,
			base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(want))
	}
	return nil
}

// unpackTarball writes the verified tarball's package/claude to dst.
func unpackTarball(tarball, dst, version string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	found, err := unpackBinary(bufio.NewReaderSize(f, 1<<20), dst, version)
	if err != nil {
		return fmt.Errorf("unpacking the npm tarball: %w", err)
	}
	if !found {
		return errors.New("the npm tarball has no package/claude")
	}
	return nil
}

// unpackBinary reads an npm tarball and writes its package/claude to dst.
// It also checks package/package.json's version when present.
func unpackBinary(r io.Reader, dst, version string) (bool, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return false, err
	}
	tr := tar.NewReader(zr)
	found := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return found, err
		}
		switch hdr.Name {
		case "package/claude":
			if hdr.Typeflag != tar.TypeReg || hdr.Size > maxBinary {
				return found, fmt.Errorf("package/claude is not a regular file under %d bytes", int64(maxBinary))
			}
			if err := writeFile(dst, io.LimitReader(tr, maxBinary), 0o755); err != nil {
				return found, err
			}
			found = true
		case "package/package.json":
			var pj struct {
				Version string `json:"version"`
			}
			if err := json.NewDecoder(io.LimitReader(tr, maxMetadata)).Decode(&pj); err != nil {
				return found, fmt.Errorf("package.json: %w", err)
			}
			if pj.Version != version {
				return found, fmt.Errorf("package.json says version %q, want %q", pj.Version, version)
			}
		}
	}
}

// writeFile creates path with perm and copies r into it.
func writeFile(path string, r io.Reader, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// meter counts bytes and prints a progress line at every tenth of the
// total (or every 25 MB when the total is unknown), then a summary.
type meter struct {
	w        io.Writer
	what     string
	total    int64
	n        int64
	next     int64
	start    time.Time
	finished bool
}

func newMeter(w io.Writer, what string, total int64) *meter {
	m := &meter{w: w, what: what, total: total, start: time.Now()}
	m.next = m.step()
	if total > 0 {
		progress(w, "%s (%s)", what, humanBytes(total))
	} else {
		progress(w, "%s", what)
	}
	return m
}

func (m *meter) step() int64 {
	if m.total > 0 {
		return max(m.total/10, 1)
	}
	return 25e6
}

func (m *meter) Write(p []byte) (int, error) {
	m.n += int64(len(p))
	for m.n >= m.next {
		if m.total > 0 && m.n < m.total {
			progress(m.w, "  %s of %s (%d%%)", humanBytes(m.n), humanBytes(m.total), m.n*100/m.total)
		} else if m.total <= 0 {
			progress(m.w, "  %s", humanBytes(m.n))
		}
		m.next += m.step()
	}
	return len(p), nil
}

func (m *meter) done() {
	if m.finished {
		return
	}
	m.finished = true
	d := time.Since(m.start)
	rate := ""
	if secs := d.Seconds(); secs > 0 {
		rate = fmt.Sprintf(", %s/s", humanBytes(int64(float64(m.n)/secs)))
	}
	progress(m.w, "  downloaded %s in %s%s", humanBytes(m.n), d.Round(100*time.Millisecond), rate)
}
