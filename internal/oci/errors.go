package oci

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound: no such image or reference in the cache.
	ErrNotFound = errors.New("image not found")
	// ErrInUse: a VM holds the image (its use lock is shared-locked).
	ErrInUse = errors.New("image in use")
	// ErrUnauthorized: the registry wants credentials we do not have.
	ErrUnauthorized = errors.New("registry authentication required")
	// ErrDigest: a blob's bytes do not match the digest that names it.
	ErrDigest = errors.New("digest mismatch")
	// ErrInvalid: a bad reference, platform or argument.
	ErrInvalid = errors.New("invalid argument")
	// ErrInsecure: plain HTTP to a registry other than localhost.
	ErrInsecure = errors.New("plain HTTP refused")
)
