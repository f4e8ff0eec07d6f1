package vmm

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/wire"
)

// Disk is a host file attached read-only as a virtio-blk disk. The guest
// finds it by Serial (device names follow probe order, not argv order).
type Disk struct {
	Serial string
	Path   string
}

// Protocol is how a host directory reaches the guest.
type Protocol string

const (
	// NineP is QEMU's own virtio-9p server ("" means it too). Read-only is
	// QEMU's readonly=on; the guest sees the host's owners as they are.
	NineP Protocol = "9p"
	// VirtioFS is virtiofsd (vhost-user-fs) in a user namespace that maps
	// this process's user to the guest's sandbox user (see virtiofs.go).
	VirtioFS Protocol = "virtiofs"
)

func (s Share) protocol() Protocol {
	if s.Protocol == "" {
		return NineP
	}
	return s.Protocol
}

func (c *Config) storageProblems() []error {
	var errs []error
	serials := map[string]bool{}
	for _, d := range c.Disks {
		if d.Serial == "" || len(d.Serial) > wire.MaxSerial || strings.Trim(d.Serial, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			errs = append(errs, fmt.Errorf("disk serial %q: want 1..%d of [a-z0-9-]", d.Serial, wire.MaxSerial))
		}
		if serials[d.Serial] {
			errs = append(errs, fmt.Errorf("disk serial %q given twice", d.Serial))
		}
		serials[d.Serial] = true
		if !filepath.IsAbs(d.Path) || strings.ContainsAny(d.Path, ",\n") {
			errs = append(errs, fmt.Errorf("disk %q: need an absolute path without ','", d.Path))
		}
	}
	tags := map[string]bool{}
	for _, sh := range c.Shares {
		if p := sh.protocol(); p != NineP && p != VirtioFS {
			errs = append(errs, fmt.Errorf("share %q: protocol %q", sh.Tag, p))
		}
		if tags[sh.Tag] {
			errs = append(errs, fmt.Errorf("share tag %q given twice", sh.Tag))
		}
		tags[sh.Tag] = true
	}
	if c.hasVirtioFS() {
		if fi, err := os.Stat(c.virtiofsd()); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("virtiofs shares need %s (Debian's qemu-system-common)", c.virtiofsd()))
		}
	}
	return errs
}

func (c *Config) virtiofsd() string {
	if c.VirtioFSD != "" {
		return c.VirtioFSD
	}
	return DefaultVirtioFSD
}

func (c *Config) hasVirtioFS() bool {
	for _, sh := range c.Shares {
		if sh.protocol() == VirtioFS {
			return true
		}
	}
	return false
}

// storageArgs are the QEMU arguments of the disks and shares, each passed
// in as r's descriptor. With virtiofs, -M names the memory backend made
// here (machineSuffix).
func (c *Config) storageArgs(r resources, in *inputs) []string {
	var a []string
	for i, d := range c.Disks {
		id := "disk" + strconv.Itoa(i)
		a = append(a, "-drive", "file="+in.path(r.disks[i])+",if=none,id="+id+",format=raw,readonly=on",
			"-device", "virtio-blk-device,drive="+id+",serial="+d.Serial)
	}
	for i, sh := range c.Shares {
		id := "fs" + strconv.Itoa(i)
		switch sh.protocol() {
		case NineP:
			dev := "local,id=" + id + ",path=" + in.path(r.shares[i]) + ",security_model=none"
			if sh.ReadOnly {
				dev += ",readonly=on"
			}
			a = append(a, "-fsdev", dev, "-device", "virtio-9p-device,fsdev="+id+",mount_tag="+sh.Tag)
		case VirtioFS:
			// A socket voidbox connected to the share's virtiofsd.
			a = append(a, "-chardev", "socket,id="+id+",fd="+strconv.Itoa(in.fd(r.shares[i])),
				"-device", "vhost-user-fs-device,chardev="+id+",tag="+sh.Tag)
		}
	}
	if c.hasVirtioFS() {
		// vhost-user needs guest RAM the daemon can map, and virtio 1.0
		// devices (microvm's virtio-mmio defaults to legacy).
		p := c.Policy.WithDefaults()
		a = append(a, "-object", "memory-backend-memfd,id=mem,share=on,size="+strconv.Itoa(p.MemoryMiB)+"M",
			"-global", "virtio-mmio.force-legacy=false")
	}
	return a
}

// machineSuffix is what storage adds to -M: guest RAM in the shared
// backend virtiofs needs.
func (c *Config) machineSuffix() string {
	if c.hasVirtioFS() {
		return ",memory-backend=mem"
	}
	return ""
}

func virtiofsSocket(dir string, i int) string {
	return filepath.Join(dir, "fs"+strconv.Itoa(i)+".sock")
}
