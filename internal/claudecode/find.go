package claudecode

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/voidbox/voidbox/internal/guestimage"
)

// flavoursDir is the cache subdirectory holding runtime flavours.
const flavoursDir = "flavours"

// FindImage returns the built flavour of version ("" for the default) in
// the cache, without building or downloading anything. When there is none
// it returns a *MissingError (errors.Is ErrImageMissing) naming the command
// that builds it. If several flavours of the version exist (built against
// different glibc packages), the newest wins.
func FindImage(cacheDir, version string) (*Image, error) {
	v, err := resolveVersion(version)
	if err != nil {
		return nil, err
	}
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return nil, err
	}
	im, _, err := findBuilt(root, v)
	if err != nil {
		return nil, err
	}
	if im == nil {
		return nil, missing(cacheDir, root, v)
	}
	return im, nil
}

// findBuilt returns the newest valid flavour of version under root, or nil.
func findBuilt(root, version string) (*Image, *manifest, error) {
	images, err := listImages(root)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range images {
		if e.im.Version == version {
			return e.im, e.m, nil
		}
	}
	return nil, nil, nil
}

// ListImages returns the valid claude-code flavours in the cache, newest
// first. Directories that are incomplete or damaged are left out.
func ListImages(cacheDir string) ([]*Image, error) {
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return nil, err
	}
	entries, err := listImages(root)
	if err != nil {
		return nil, err
	}
	out := make([]*Image, len(entries))
	for i, e := range entries {
		out[i] = e.im
	}
	return out, nil
}

type listed struct {
	im *Image
	m  *manifest
}

func listImages(root string) ([]listed, error) {
	dir := filepath.Join(root, flavoursDir)
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []listed
	for _, de := range des {
		if !de.IsDir() || !strings.HasPrefix(de.Name(), flavourPrefix) {
			continue
		}
		im, m, err := loadImage(filepath.Join(dir, de.Name()))
		if err != nil {
			continue
		}
		out = append(out, listed{im, m})
	}
	slices.SortStableFunc(out, func(a, b listed) int { return b.m.Built.Compare(a.m.Built) })
	return out, nil
}

// missing builds the MissingError, whose command reproduces the lookup:
// flags only where the defaults would differ.
func missing(cacheDirArg, root, version string) error {
	cmd := "voidbox image build claude"
	if def, _ := resolveVersion(""); version != def {
		cmd += " --version " + version
	}
	if cacheDirArg != "" {
		if def, err := guestimage.CacheRoot(""); err != nil || def != root {
			cmd += " --cache-dir " + shellQuote(root)
		}
	}
	return &MissingError{Version: version, CacheDir: root, Command: cmd}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
