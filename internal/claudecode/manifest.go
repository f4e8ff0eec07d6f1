package claudecode

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
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
	Built      time.Time        `json:"built"`
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
	if err := errors.Join(problems...); err != nil {
		return nil, nil, err
	}
	im := &Image{
		Dir: dir, Version: m.Version, Binary: m.Binary, Shell: m.Shell, Libs: m.Libs,
		GuestDir: GuestDir, Interp: m.Interp, Integrity: m.Integrity, Debian: m.Debian, Size: size,
	}
	im.Loader = im.GuestPath(m.Loader)
	return im, &m, nil
}
