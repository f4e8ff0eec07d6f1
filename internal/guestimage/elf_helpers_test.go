package guestimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
)

// testSection is one section of a synthetic ELF file.
type testSection struct {
	name string
	typ  elf.SectionType
	data []byte
}

// buildELF writes a minimal little-endian ELF64 file: header, section data, a section name table,
// section headers and, when noteSegment is set, one PT_NOTE program header covering the first
// SHT_NOTE section. It is what debug/elf (and so the code under test) needs, nothing more.
func buildELF(t *testing.T, typ elf.Type, machine elf.Machine, secs []testSection, noteSegment bool) []byte {
	t.Helper()
	le := binary.LittleEndian
	const ehsize, shentsize, phentsize = 64, 64, 56
	var body bytes.Buffer
	offsets := make([]uint64, len(secs))
	phnum := 0
	if noteSegment {
		phnum = 1
	}
	start := uint64(ehsize + phnum*phentsize)
	for i, s := range secs {
		for (start+uint64(body.Len()))%8 != 0 {
			body.WriteByte(0)
		}
		offsets[i] = start + uint64(body.Len())
		body.Write(s.data)
	}
	shstrtab := []byte{0}
	nameOff := make([]uint32, len(secs)+1)
	for i, s := range secs {
		nameOff[i] = uint32(len(shstrtab))
		shstrtab = append(append(shstrtab, s.name...), 0)
	}
	nameOff[len(secs)] = uint32(len(shstrtab))
	shstrtab = append(append(shstrtab, ".shstrtab"...), 0)
	shstrOff := start + uint64(body.Len())
	body.Write(shstrtab)
	for (start+uint64(body.Len()))%8 != 0 {
		body.WriteByte(0)
	}
	shoff := start + uint64(body.Len())
	shnum := len(secs) + 2

	var out bytes.Buffer
	hdr := make([]byte, ehsize)
	copy(hdr, elf.ELFMAG)
	hdr[elf.EI_CLASS], hdr[elf.EI_DATA], hdr[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	le.PutUint16(hdr[16:], uint16(typ))
	le.PutUint16(hdr[18:], uint16(machine))
	le.PutUint32(hdr[20:], uint32(elf.EV_CURRENT))
	if phnum > 0 {
		le.PutUint64(hdr[32:], ehsize) // e_phoff
	}
	le.PutUint64(hdr[40:], shoff)
	le.PutUint16(hdr[52:], ehsize)
	le.PutUint16(hdr[54:], phentsize)
	le.PutUint16(hdr[56:], uint16(phnum))
	le.PutUint16(hdr[58:], shentsize)
	le.PutUint16(hdr[60:], uint16(shnum))
	le.PutUint16(hdr[62:], uint16(shnum-1)) // .shstrtab is last
	out.Write(hdr)
	if noteSegment {
		ph := make([]byte, phentsize)
		le.PutUint32(ph[0:], uint32(elf.PT_NOTE))
		for i, s := range secs {
			if s.typ == elf.SHT_NOTE {
				le.PutUint64(ph[8:], offsets[i])
				le.PutUint64(ph[32:], uint64(len(s.data)))
				le.PutUint64(ph[40:], uint64(len(s.data)))
				le.PutUint64(ph[48:], 4)
				break
			}
		}
		out.Write(ph)
	}
	out.Write(body.Bytes())
	sh := func(name uint32, typ elf.SectionType, off, size uint64) {
		b := make([]byte, shentsize)
		le.PutUint32(b[0:], name)
		le.PutUint32(b[4:], uint32(typ))
		le.PutUint64(b[24:], off)
		le.PutUint64(b[32:], size)
		le.PutUint64(b[48:], 1)
		out.Write(b)
	}
	sh(0, elf.SHT_NULL, 0, 0)
	for i, s := range secs {
		sh(nameOff[i], s.typ, offsets[i], uint64(len(s.data)))
	}
	sh(nameOff[len(secs)], elf.SHT_STRTAB, shstrOff, uint64(len(shstrtab)))
	return out.Bytes()
}

// elfNote encodes one ELF note.
func elfNote(name string, typ uint32, desc []byte) []byte {
	le := binary.LittleEndian
	pad := func(b []byte) []byte {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	var out []byte
	out = le.AppendUint32(out, uint32(len(name)+1))
	out = le.AppendUint32(out, uint32(len(desc)))
	out = le.AppendUint32(out, typ)
	out = append(out, pad(append([]byte(name), 0))...)
	return append(out, pad(desc)...)
}

// testModule is a synthetic .ko: a relocatable x86-64 ELF whose .modinfo holds the given lines.
func testModule(t *testing.T, modinfo ...string) []byte {
	t.Helper()
	var mi []byte
	for _, l := range modinfo {
		mi = append(append(mi, l...), 0)
	}
	return buildELF(t, elf.ET_REL, elf.EM_X86_64, []testSection{
		{name: ".text", typ: elf.SHT_PROGBITS, data: []byte{0xc3}},
		{name: ".modinfo", typ: elf.SHT_PROGBITS, data: mi},
	}, false)
}

// testVmlinux is a synthetic kernel ELF with a PVH entry note at entry (or no note when entry is 0).
func testVmlinux(t *testing.T, entry uint32) []byte {
	t.Helper()
	notes := elfNote("Linux", 6, []byte("6.1.0-test\x00"))
	if entry != 0 {
		notes = append(notes, elfNote("Xen", xenElfnotePhys32Entry, binary.LittleEndian.AppendUint64(nil, uint64(entry)))...)
	}
	return buildELF(t, elf.ET_EXEC, elf.EM_X86_64, []testSection{
		{name: ".text", typ: elf.SHT_PROGBITS, data: bytes.Repeat([]byte{0x90}, 4096)},
		{name: ".notes", typ: elf.SHT_NOTE, data: notes},
	}, true)
}
