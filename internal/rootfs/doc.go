// Package rootfs turns the layers of a container image into one read-only
// file system image that a micro-VM attaches as a virtio-blk disk.
//
// It works in three steps, each in its own file:
//
//   - apply (apply.go): every layer's tar stream is applied, in order, to an
//     in-memory tree (tree.go) with the OCI image-spec's layer semantics:
//     whiteouts (.wh.NAME), opaque directories (.wh..wh..opq), hard links,
//     symlinks, modes with setuid/setgid/sticky, owners, xattrs, device nodes
//     and FIFOs. Only regular files' contents touch the host's disk, each as
//     an anonymous numbered blob in a staging directory. Paths are resolved
//     in the tree, never on the host: a symlink, however it points (absolute,
//     "..", a loop), is data and is never followed outside the image root.
//   - materialise (materialise.go): the final tree is written below a fresh
//     staging directory with every parent created by us as a real directory,
//     so no write can go through a symlink. Ownership, modes, device numbers
//     and xattrs are not applied to the host files (an unprivileged user
//     could not); they are written into a fakeroot(1) state file keyed by
//     device and inode, and an xattr dump for setfattr(1).
//   - mkfs (mkfs.go): mkfs.erofs (erofs-utils) or mkfs.ext4 -d (e2fsprogs)
//     runs under `fakeroot -i state`, which answers their stat(2) and
//     getxattr(2) calls with the image's metadata. The same path runs as root
//     and as an ordinary user and gives the same image.
//
// Device nodes are kept (as the layers say): they only name devices of the
// guest, which is inside the VM boundary, and a devtmpfs is mounted over
// /dev in the guest anyway.
package rootfs
