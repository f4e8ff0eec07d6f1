// Package deb reads and fetches Debian binary packages: the ar(1) container
// of a .deb and the files of its data.tar member (deb(5)), and a Source that
// finds and downloads packages, with the host's apt as the real one.
//
// The guest image (kernel, modules, busybox), the Claude Code flavour
// (glibc, bash) and the toolbox OCI image all take their files from .debs
// through this one reader. It never runs maintainer scripts.
package deb
