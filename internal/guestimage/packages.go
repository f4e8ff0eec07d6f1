package guestimage

import "regexp"

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
