package guestinit

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// handleMount mounts a host virtio-9p share. Modules for 9p are loaded on
// first use, so boots that need no share do not pay for them.
func handleMount(st net.Conn, f wire.Frame, v view) {
	var req wire.Mount
	if err := f.Decode(&req); err != nil || !filepath.IsAbs(req.Path) || req.Tag == "" || strings.ContainsAny(req.Tag, ", ") {
		sendError(st, wire.CodeInvalid, "mount: need a tag and an absolute path")
		return
	}
	if err := ensureModules(ModulesFile, "9p", "9pnet_virtio"); err != nil {
		sendError(st, wire.CodeInternal, "mount: "+err.Error())
		return
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
	opts := "trans=virtio,version=9p2000.L,msize=512000"
	if req.ReadOnly {
		// Read-only shares can use the page cache freely (cache=loose):
		// nothing on the host side changes them under the guest.
		flags |= unix.MS_RDONLY
		opts += ",cache=loose"
	}
	// In the view: the mount point resolves where commands will look.
	err := v.as(true, func() error {
		if err := mountPoint(req.Path); err != nil {
			return err
		}
		return unix.Mount(req.Tag, req.Path, "9p", flags, opts)
	})
	if err != nil {
		sendError(st, wire.CodeInternal, fmt.Sprintf("mount %s on %s: %v", req.Tag, req.Path, err))
		return
	}
	replyErr(st, nil)
}
