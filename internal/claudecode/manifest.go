package claudecode

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/voidbox/voidbox/internal/guestimage"
	"time"

	"github.com/voidbox/voidbox/internal/artifact"
)

// manifestName is the file in a flavour directory that describes it. It is
// written last, so a directory with a valid manifest is complete.
const manifestName = "flavour.json"

// manifest is flavour.json.
type manifest struct {
	Runtime    string           `json:"runtime"` // "claude-code"
	Version    string           `json:"version"`
	NPMPackage string           `json:"npm_package"`
	Tarball    string           `json:"tarball"`
	Integrity  string           `json:"integrity"`
	Debian     []Package        `json:"debian"`
	Binary     string           `json:"binary"`
	Shell      string           `json:"shell"`
	Libs       []string         `json:"libs"`
	Loader     string           `json:"loader"` // relative to the flavour
	Interp     string           `json:"interp"`
	Files      map[string]int64 `json:"files"` // relative path → size
	// Records are every file's size, digest and mtime as built (flavours
	// built before records existed have none and are checked by size).
	Records artifact.Set `json:"records,omitempty"`
	Built   time.Time    `json:"built"`
}

const runtimeName = "claude-code"

// flavourPrefix starts every claude-code flavour directory name.
const flavourPrefix = "claude-code-"

// unsafePath turns Debian versions (":" epochs, "+", "~") into one tidy
// path element.
var unsafePath = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// flavourName is the content address of a flavour: the claude-code
// version and the glibc package version its libraries come from.
func flavourName(version, libcVersion string) string {
	return flavourPrefix + version + "-" + unsafePath.ReplaceAllString(libcVersion, "_")
}

func writeManifest(dir string, m *manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, manifestName), append(b, '\n'), 0o644)
}

// loadImage reads a flavour directory and checks that every file its
// manifest lists is there with its recorded size (hashing 400 MB on every
// lookup would cost seconds; the download was verified when it was built).
func loadImage(dir string) (*Image, *manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", manifestName, err)
	}
	if m.Runtime != runtimeName || m.Binary == "" || m.Loader == "" || m.Interp == "" || len(m.Files) == 0 {
		return nil, nil, fmt.Errorf("%s: incomplete manifest", manifestName)
	}
	var size int64
	var problems []error
	for rel, want := range m.Files {
		if !filepath.IsLocal(rel) {
			problems = append(problems, fmt.Errorf("%s: path outside the flavour", rel))
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, rel))
		switch {
		case err != nil:
			problems = append(problems, err)
		case fi.Size() != want:
			problems = append(problems, fmt.Errorf("%s: %d bytes, manifest says %d", rel, fi.Size(), want))
		default:
			size += want
		}
	}
	if m.Records != nil {
		problems = append(problems, m.Records.Check(dir)) // a stat each: size and mtime
	}
	if err := errors.Join(problems...); err != nil {
		return nil, nil, err
	}
	im := &Image{
		Dir: dir, Version: m.Version, Binary: m.Binary, Shell: m.Shell, Libs: m.Libs,
		GuestDir: GuestDir, Interp: m.Interp, Integrity: m.Integrity, Debian: m.Debian, Size: size,
		Records: m.Records,
	}
	im.Loader = im.GuestPath(m.Loader)
	return im, &m, nil
}

// Verify reads every file of every claude-code flavour in the cache and
// returns the damaged ones (errors wrapping artifact.ErrDamaged), or nil.
// Flavours built before records existed are checked by size only.
func Verify(cacheDir string) error {
	root, err := guestimage.CacheRoot(cacheDir)
	if err != nil {
		return err
	}
	dirs, _ := filepath.Glob(filepath.Join(root, flavoursDir, flavourPrefix+"*"))
	var errs []error
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, manifestName))
		if err != nil {
			continue // not finished: never used
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			errs = append(errs, &artifact.DamagedError{Path: filepath.Join(dir, manifestName), Why: err.Error()})
			continue
		}
		if m.Records != nil {
			errs = append(errs, m.Records.Verify(dir))
			continue
		}
		if _, _, err := loadImage(dir); err != nil {
			errs = append(errs, &artifact.DamagedError{Path: dir, Why: err.Error()})
		}
	}
	return errors.Join(errs...)
}
