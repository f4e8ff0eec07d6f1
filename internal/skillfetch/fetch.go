// Package skillfetch fetches remote skills (remote:OWNER/REPO/SKILL[@REF])
// on the host: one SKILL.md over HTTPS from a configurable base (GitHub's raw
// content by default), checked like a file: skill, cached by content hash in
// the voidbox cache so a later run works offline. A skill that cannot be
// fetched and was never cached is an error: nothing is made up.
package skillfetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultBaseURL serves raw files of GitHub repositories.
const DefaultBaseURL = "https://raw.githubusercontent.com"

// BaseURLEnv overrides DefaultBaseURL (a mirror, a proxy, a test server).
const BaseURLEnv = "VOIDBOX_SKILLS_BASE_URL"

// Ref names a remote skill.
type Ref struct {
	Owner, Repo string
	Skill       string // "" for a repository whose root holds SKILL.md
	Rev         string // branch, tag or commit; "" for the default branch
}

var (
	part     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	revision = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$`)
)

// ParseRef reads OWNER/REPO/SKILL[@REV] or OWNER/REPO[@REV].
func ParseRef(s string) (Ref, error) {
	body, rev, pinned := strings.Cut(s, "@")
	if pinned && (!revision.MatchString(rev) || strings.Contains(rev, "..")) {
		return Ref{}, fmt.Errorf("remote skill %q: invalid revision %q", s, rev)
	}
	parts := strings.Split(body, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Ref{}, fmt.Errorf("remote skill %q: want OWNER/REPO/SKILL or OWNER/REPO, optionally @REVISION", s)
	}
	for _, p := range parts {
		if !part.MatchString(p) || p == "." || p == ".." {
			return Ref{}, fmt.Errorf("remote skill %q: invalid name %q", s, p)
		}
	}
	r := Ref{Owner: parts[0], Repo: parts[1], Rev: rev}
	if len(parts) == 3 {
		r.Skill = parts[2]
	}
	return r, nil
}

func (r Ref) String() string {
	s := r.Owner + "/" + r.Repo
	if r.Skill != "" {
		s += "/" + r.Skill
	}
	if r.Rev != "" {
		s += "@" + r.Rev
	}
	return s
}

// URL is where the skill's SKILL.md is under base: the seed's layout,
// skills/SKILL/SKILL.md (or SKILL.md at the root of a skill repository).
func (r Ref) URL(base string) string {
	rev := r.Rev
	if rev == "" {
		rev = "HEAD"
	}
	p := "SKILL.md"
	if r.Skill != "" {
		p = "skills/" + r.Skill + "/SKILL.md"
	}
	return strings.TrimRight(base, "/") + "/" + r.Owner + "/" + r.Repo + "/" + rev + "/" + p
}

// Skill is a fetched SKILL.md, checked.
type Skill struct {
	Name, Description string
	Content           string
	URL               string
	SHA256            string
	Cached            bool // the network failed; this is the copy cached last time
}

// MaxSize bounds a fetched SKILL.md.
const MaxSize = 1 << 20

// Options tune Fetch.
type Options struct {
	// Check validates a SKILL.md and returns its name and description (the
	// rule of file: skills, spec.SkillMarkdown); required.
	Check    func(data []byte) (name, desc string, err error)
	BaseURL  string       // default $VOIDBOX_SKILLS_BASE_URL, then DefaultBaseURL
	CacheDir string       // the voidbox cache root (required)
	Client   *http.Client // default: 30 s timeout, the user's proxy settings
}

// Fetch gets ref's SKILL.md, verifies it like a file: skill and records it
// in the cache; when the network fails it falls back to the last cached copy
// of the same URL (a 404 does not: the reference is wrong).
func Fetch(ctx context.Context, ref Ref, o Options) (*Skill, error) {
	if o.Check == nil {
		return nil, errors.New("skillfetch: no Check")
	}
	base := o.BaseURL
	if base == "" {
		base = os.Getenv(BaseURLEnv)
	}
	if base == "" {
		base = DefaultBaseURL
	}
	if !strings.HasPrefix(base, "https://") && !isLoopbackHTTP(base) {
		return nil, fmt.Errorf("remote skill %s: base URL %q is not https", ref, base)
	}
	url := ref.URL(base)
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second} // DefaultTransport: HTTPS_PROXY and friends
	}
	data, err := get(ctx, client, url)
	var nf notFound
	switch {
	case errors.As(err, &nf):
		return nil, fmt.Errorf("remote skill %s: %s: %w", ref, url, err)
	case err != nil:
		sum, cerr := cachedSum(o.CacheDir, url)
		if cerr != nil {
			return nil, fmt.Errorf("remote skill %s: fetching %s: %w; and there is no cached copy", ref, url, err)
		}
		data, cerr = os.ReadFile(blobPath(o.CacheDir, sum))
		if cerr != nil {
			return nil, fmt.Errorf("remote skill %s: fetching %s: %w; the cached copy is gone: %v", ref, url, err, cerr)
		}
		s, verr := check(o.Check, ref, url, data)
		if verr != nil {
			return nil, verr
		}
		s.Cached = true
		return s, nil
	}
	s, err := check(o.Check, ref, url, data)
	if err != nil {
		return nil, err
	}
	if err := store(o.CacheDir, url, s.SHA256, data); err != nil {
		return nil, fmt.Errorf("remote skill %s: caching: %w", ref, err)
	}
	return s, nil
}

func check(fn func([]byte) (string, string, error), ref Ref, url string, data []byte) (*Skill, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("remote skill %s (%s): larger than %d KiB", ref, url, MaxSize>>10)
	}
	name, desc, err := fn(data)
	if err != nil {
		return nil, fmt.Errorf("remote skill %s (%s): %w", ref, url, err)
	}
	sum := sha256.Sum256(data)
	return &Skill{Name: name, Description: desc, Content: string(data), URL: url, SHA256: hex.EncodeToString(sum[:])}, nil
}

type notFound struct{ status string }

func (e notFound) Error() string { return e.status }

func get(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, notFound{resp.Status}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("server said %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}

func isLoopbackHTTP(u string) bool {
	return strings.HasPrefix(u, "http://127.0.0.1:") || strings.HasPrefix(u, "http://localhost:") || strings.HasPrefix(u, "http://[::1]:")
}

// The cache: skills/blobs/<sha256> holds contents, skills/urls/<hash of
// URL>.json which content a URL had last.
func blobPath(root, sum string) string { return filepath.Join(root, "skills", "blobs", sum) }

func urlPath(root, url string) string {
	h := sha256.Sum256([]byte(url))
	return filepath.Join(root, "skills", "urls", hex.EncodeToString(h[:16])+".json")
}

type urlRecord struct {
	URL     string    `json:"url"`
	SHA256  string    `json:"sha256"`
	Fetched time.Time `json:"fetched"`
}

func cachedSum(root, url string) (string, error) {
	b, err := os.ReadFile(urlPath(root, url))
	if err != nil {
		return "", err
	}
	var r urlRecord
	if err := json.Unmarshal(b, &r); err != nil || r.URL != url || len(r.SHA256) != 64 {
		return "", errors.New("damaged cache record")
	}
	return r.SHA256, nil
}

func store(root, url, sum string, data []byte) error {
	if root == "" {
		return errors.New("no cache directory")
	}
	if err := writeAtomic(blobPath(root, sum), data); err != nil {
		return err
	}
	rec, _ := json.Marshal(urlRecord{URL: url, SHA256: sum, Fetched: time.Now().UTC()})
	return writeAtomic(urlPath(root, url), rec)
}

func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
