// Package setup prepares a host to run voidbox: it finds (or, as root on Debian, installs) QEMU,
// finds or builds the static guest init, and has guestimage build the kernel and initramfs.
// The `voidbox setup` command is a thin wrapper around Run; `voidbox run` calls the same pieces so a
// first run on a fresh machine needs no separate step.
package setup
