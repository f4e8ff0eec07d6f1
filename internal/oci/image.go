package oci

import (
	"fmt"
	"time"
)

// Image is one image in the cache, as inspect shows it. Digest is the
// manifest's (for an index, the linux/amd64 child's); Index is the index
// the reference pointed at, if any.
type Image struct {
	Digest    string    `json:"digest"`
	Index     string    `json:"index,omitempty"`
	MediaType string    `json:"media_type"`
	Refs      []string  `json:"refs"`
	Platform  string    `json:"platform"`
	Config    string    `json:"config"`
	Layers    []Layer   `json:"layers"`
	Size      int64     `json:"size"` // manifest, config and compressed layers
	Created   time.Time `json:"created,omitzero"`
	Pulled    time.Time `json:"pulled"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	// Env, WorkingDir, User, Entrypoint and Cmd are the image config's.
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
	User       string   `json:"user,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	// RootFS lists the root file system images built from it, by format.
	RootFS map[string]RootFS `json:"rootfs,omitempty"`
}

// Layer is one layer blob of an image.
type Layer struct {
	Digest    string `json:"digest"`
	DiffID    string `json:"diff_id"` // sha256 of the uncompressed tar
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
}

// RootFS is a built root file system image.
type RootFS struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// ShortDigest is the first 12 hex digits of d.
func ShortDigest(d string) string {
	if len(d) > 7+12 {
		return d[7 : 7+12]
	}
	return d
}

// Name is the image's first reference, or its short digest.
func (im *Image) Name() string {
	if len(im.Refs) > 0 {
		return im.Refs[0]
	}
	return ShortDigest(im.Digest)
}

// Summary is one line for people.
func (im *Image) Summary() string {
	return fmt.Sprintf("%s: %s, %d layers, %s", im.Name(), im.Digest, len(im.Layers), HumanBytes(im.Size))
}

// HumanBytes renders n in decimal units, as registry sizes are quoted.
func HumanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
