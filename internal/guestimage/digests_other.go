//go:build !linux

package guestimage

import "os"

// addStatKey keeps size and mtime only off Linux.
func addStatKey(*fileKey, os.FileInfo) {}
