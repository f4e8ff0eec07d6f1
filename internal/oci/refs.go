package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// LocalRegistry is the registry name of images built on this host
// (`voidbox image build toolbox` gives voidbox.local/toolbox:latest). It is
// never contacted: Pull refuses it.
const LocalRegistry = "voidbox.local"

// ParseRef parses an image reference by tag or digest. A short name is
// Docker Hub's, as docker reads it ("debian" is
// index.docker.io/library/debian:latest).
func ParseRef(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("%w: reference %q: %v", ErrInvalid, s, err)
	}
	return ref, nil
}

// canonical is the form refs.json keys by.
func canonical(ref name.Reference) string { return ref.Name() }

func (s *Store) refsPath() string { return filepath.Join(s.dir, "refs.json") }

// readRefs loads refs.json: canonical reference → image digest.
func (s *Store) readRefs() (map[string]string, error) {
	refs := map[string]string{}
	b, err := os.ReadFile(s.refsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return refs, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &refs); err != nil {
		return nil, fmt.Errorf("%s: %w", s.refsPath(), err)
	}
	return refs, nil
}

// updateRefs changes refs.json under its lock.
func (s *Store) updateRefs(ctx context.Context, change func(map[string]string)) error {
	l, err := s.lock(ctx, "refs", nil)
	if err != nil {
		return err
	}
	defer l.Close()
	refs, err := s.readRefs()
	if err != nil {
		return err
	}
	change(refs)
	b, err := json.MarshalIndent(refs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, "tmp"), s.refsPath(), b)
}

// refsOf returns the references that point at digest d, sorted.
func refsOf(refs map[string]string, d string) []string {
	var out []string
	for r, v := range refs {
		if v == d {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// resolveLocal finds the image digest a reference or digest names in the
// cache, without the network. It accepts a full digest, a short digest
// prefix of at least 12 hex digits, or a reference in any spelling that
// parses to a cached one.
func (s *Store) resolveLocal(refOrDigest string) (string, error) {
	if strings.HasPrefix(refOrDigest, "sha256:") {
		if err := validDigest(refOrDigest); err != nil {
			return "", err
		}
		if _, err := os.Stat(s.imageDir(refOrDigest)); err != nil {
			return "", fmt.Errorf("%w: %s", ErrNotFound, refOrDigest)
		}
		return refOrDigest, nil
	}
	refs, err := s.readRefs()
	if err != nil {
		return "", err
	}
	if ref, err := ParseRef(refOrDigest); err == nil {
		if d, ok := refs[canonical(ref)]; ok {
			return d, nil
		}
		if dg, ok := ref.(name.Digest); ok {
			if _, err := os.Stat(s.imageDir(dg.DigestStr())); err == nil {
				return dg.DigestStr(), nil
			}
		}
	}
	if len(refOrDigest) >= 12 && strings.Trim(refOrDigest, "0123456789abcdef") == "" {
		entries, _ := os.ReadDir(filepath.Join(s.dir, "images"))
		var found []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), refOrDigest) {
				found = append(found, "sha256:"+e.Name())
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return "", fmt.Errorf("%w: %s is the prefix of %d images", ErrInvalid, refOrDigest, len(found))
		}
	}
	return "", fmt.Errorf("%w: %s is not in the cache (pull it with: voidbox image pull %s)", ErrNotFound, refOrDigest, refOrDigest)
}
