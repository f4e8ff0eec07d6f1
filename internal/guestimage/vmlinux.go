package guestimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
)

// xenElfnotePhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit physical entry point a PVH loader
// (QEMU -kernel with an ELF, Firecracker, Cloud Hypervisor) jumps to. Without it QEMU cannot boot the
// ELF directly. See include/xen/interface/elfnote.h in Linux.
const xenElfnotePhys32Entry = 18

// checkPVH verifies that r is an x86-64 ELF kernel with a PVH entry note and returns the entry address.
func checkPVH(r io.ReaderAt) (uint32, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return 0, fmt.Errorf("%w: decompressed kernel is not ELF: %v", ErrUnsupportedKernel, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return 0, fmt.Errorf("%w: kernel is for %v, not x86-64", ErrUnsupportedKernel, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return 0, fmt.Errorf("reading ELF notes: %w", err)
		}
		if entry, ok := findXenNote(data, f.ByteOrder); ok {
			return entry, nil
		}
	}
	return 0, fmt.Errorf("%w: kernel has no Xen PVH entry note (type %d); it was built without CONFIG_PVH",
		ErrUnsupportedKernel, xenElfnotePhys32Entry)
}

// findXenNote walks ELF notes (namesz, descsz, type, name, desc; each padded to 4 bytes) looking for
// the "Xen" note of type PHYS32_ENTRY.
func findXenNote(b []byte, bo binary.ByteOrder) (uint32, bool) {
	align := func(n uint32) uint64 { return (uint64(n) + 3) &^ 3 }
	for len(b) >= 12 {
		namesz, descsz, typ := bo.Uint32(b[0:]), bo.Uint32(b[4:]), bo.Uint32(b[8:])
		b = b[12:]
		nameEnd, descEnd := align(namesz), align(namesz)+align(descsz)
		if descEnd > uint64(len(b)) {
			return 0, false
		}
		name := bytes.TrimRight(b[:namesz], "\x00")
		desc := b[nameEnd : nameEnd+uint64(descsz)]
		if string(name) == "Xen" && typ == xenElfnotePhys32Entry && len(desc) >= 4 {
			return bo.Uint32(desc), true
		}
		b = b[descEnd:]
	}
	return 0, false
}
