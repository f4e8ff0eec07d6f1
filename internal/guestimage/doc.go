// Package guestimage produces the files a voidbox micro-VM boots from: a Debian kernel turned into an
// ELF vmlinux for PVH boot, the kernel modules the guest needs, busybox, and a gzip'd newc initramfs
// with the guest init (voidbox-guest) as /init. Everything lands in a content-addressed cache so that a second
// Ensure with unchanged inputs downloads and builds nothing.
//
// Cache layout (root from [CacheRoot]):
//
//	lock                         flock(2) held for the whole of Ensure; serialises concurrent set-ups
//	resolved.json                requested package name → concrete package and version (see Options.Refresh)
//	kernel/<pkg>_<ver>/          vmlinuz, vmlinux, kernel.json (module index), lib/modules/<release>/…
//	busybox/<ver>/               busybox, applets.txt
//	layers/<name>-<digest>.cpio.gz   one archive per extra Layer
//	initramfs/<digest>.cpio.gz   base archive, followed by the layer archives (the kernel unpacks
//	                             concatenated gzip'd cpio archives in order)
//	tmp/                         staging; every directory or file is written here, then renamed into place
//
// A directory or file that exists under its final name is complete: it was renamed there only after
// everything in it had been written. A crash leaves at most litter in tmp/, which the next Ensure removes
// while it holds the lock.
package guestimage
