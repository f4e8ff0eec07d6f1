package guestimage

import (
	"context"
	"errors"
	"regexp"
)

// ErrPackageNotFound is returned (wrapped) when the package source does not know a package.
var ErrPackageNotFound = errors.New("package not found")

// PackageSource finds and downloads Debian binary packages. AptSource is the real one.
type PackageSource interface {
	// Show returns the candidate version of the named package. An unknown package is an error
	// wrapping ErrPackageNotFound.
	Show(ctx context.Context, name string) (PackageInfo, error)
	// Download fetches exactly name=version into dir and returns the path of the .deb.
	Download(ctx context.Context, name, version, dir string) (string, error)
}

// PackageInfo is the part of a package record that set-up needs.
type PackageInfo struct {
	Name    string
	Version string
	Depends []string // package names only, alternatives and version constraints dropped
	Size    int64    // bytes of the .deb, 0 if unknown
}

// pkgRef names one concrete version of a package.
type pkgRef struct {
	Name    string `json:"package"`
	Version string `json:"version"`
}

func (p pkgRef) String() string { return p.Name + "=" + p.Version }

// dirName is p as a single path element: Debian versions may contain ':' (epoch), which some tools
// dislike in paths.
func (p pkgRef) dirName() string {
	return unsafePathChars.ReplaceAllString(p.Name+"_"+p.Version, "_")
}

var unsafePathChars = regexp.MustCompile(`[^A-Za-z0-9.+_-]`)

// concreteKernel matches the versioned kernel packages the linux-image-amd64 metapackage points at.
var concreteKernel = regexp.MustCompile(`^linux-image-[0-9][^ ]*-amd64(-unsigned)?$`)
