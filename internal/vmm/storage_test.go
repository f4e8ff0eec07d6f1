package vmm

import (
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/policy"
)

func TestStorageArgs(t *testing.T) {
	c := Config{QEMU: "q", Kernel: "/k", Policy: policy.Sandbox{MemoryMiB: 256}, Accel: TCG, Secret: []byte("0123456789abcdef-secret"),
		Disks:  []Disk{{Serial: "root", Path: "/c/rootfs.erofs"}},
		Shares: []Share{{Tag: "vbmnt0", HostPath: "/h", Protocol: VirtioFS}, {Tag: "claude", HostPath: "/c", ReadOnly: true}}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	a := argsOf(t, c)
	// Descriptors: 3 the kernel, 4 the console, 5 ctl, 6 the secret, 7 qmp,
	// 8 the initrd, then storage in order.
	for _, want := range []string{
		"-drive file=/proc/self/fd/9,if=none,id=disk0,format=raw,readonly=on", "-device virtio-blk-device,drive=disk0,serial=root",
		"-chardev socket,id=fs0,fd=10", "-device vhost-user-fs-device,chardev=fs0,tag=vbmnt0",
		"memory-backend-memfd,id=mem,share=on,size=256M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off,pic=off,memory-backend=mem",
		"virtio-mmio.force-legacy=false", "-fsdev local,id=fs1,path=/proc/self/fd/11,security_model=none,readonly=on",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("argv lacks %q:\n%s", want, a)
		}
	}
	// Without virtiofs, guest RAM is QEMU's own and the devices legacy.
	c.Shares = c.Shares[1:]
	if a := argsOf(t, c); strings.Contains(a, "memfd") || strings.Contains(a, "force-legacy") {
		t.Errorf("virtiofs arguments without a virtiofs share: %s", a)
	}
	for _, bad := range []Config{
		{Disks: []Disk{{Serial: "Root", Path: "/x"}}},
		{Disks: []Disk{{Serial: "a", Path: "/x"}, {Serial: "a", Path: "/y"}}},
		{Disks: []Disk{{Serial: "a", Path: "x"}}},
		{Shares: []Share{{Tag: "t", HostPath: "/a,b", Protocol: VirtioFS}}},
		{Shares: []Share{{Tag: "t", HostPath: "/a"}, {Tag: "t", HostPath: "/b"}}},
		{Shares: []Share{{Tag: "t", HostPath: "/a", Protocol: "nfs"}}},
		{Shares: []Share{{Tag: "t", HostPath: "/a", Protocol: VirtioFS}}, VirtioFSD: "/no/such/virtiofsd"},
	} {
		b := c
		b.Disks, b.Shares, b.VirtioFSD = bad.Disks, bad.Shares, bad.VirtioFSD
		if err := b.validate(); err == nil {
			t.Errorf("accepted %+v %+v %q", bad.Disks, bad.Shares, bad.VirtioFSD)
		}
	}
}
