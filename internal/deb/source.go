package deb

import (
	"context"
	"errors"
)

// ErrNotFound is returned (wrapped) when a Source does not know a package.
var ErrNotFound = errors.New("package not found")

// Source finds and downloads Debian binary packages. Apt is the real one;
// tests serve .debs they built.
type Source interface {
	// Show returns the candidate version of the named package. An unknown
	// package is an error wrapping ErrNotFound.
	Show(ctx context.Context, name string) (Package, error)
	// Download fetches exactly name=version into dir and returns the path
	// of the .deb.
	Download(ctx context.Context, name, version, dir string) (string, error)
}

// Package is the part of a package record that voidbox needs.
type Package struct {
	Name    string
	Version string
	Depends []string // package names only, alternatives and version constraints dropped
	Size    int64    // bytes of the .deb, 0 if unknown
}
