//go:build !unix

package wire

import "io/fs"

// owner cannot tell owners apart here, so the allowlist trusts nothing.
func owner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }
