package guestimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/therootcompany/xz"
)

// Offsets in the x86 boot protocol's setup header
// (https://www.kernel.org/doc/html/latest/arch/x86/boot.html).
const (
	offSetupSects    = 0x1f1
	offHeaderMagic   = 0x202 // "HdrS"
	offVersion       = 0x206
	offPayloadOffset = 0x248 // protocol 2.08+: payload start, relative to the protected-mode code
	offPayloadLength = 0x24c
	minHeaderLen     = 0x250

	// maxVmlinux bounds the decompressed kernel so a corrupt payload cannot fill the disk.
	maxVmlinux = 1 << 30
)

// ErrUnsupportedKernel is returned (wrapped) for a kernel voidbox cannot turn into a PVH vmlinux.
var ErrUnsupportedKernel = errors.New("unsupported kernel image")

// bzPayload returns the compressed kernel inside a bzImage.
func bzPayload(img []byte) ([]byte, error) {
	if len(img) < minHeaderLen || string(img[offHeaderMagic:offHeaderMagic+4]) != "HdrS" {
		return nil, fmt.Errorf("%w: not a bzImage (no HdrS setup header)", ErrUnsupportedKernel)
	}
	if v := binary.LittleEndian.Uint16(img[offVersion:]); v < 0x208 {
		return nil, fmt.Errorf("%w: boot protocol %d.%02d has no payload fields (need 2.08+)", ErrUnsupportedKernel, v>>8, v&0xff)
	}
	setupSects := int(img[offSetupSects])
	if setupSects == 0 {
		setupSects = 4 // historical meaning of 0, per the boot protocol
	}
	start := uint64(setupSects+1) * 512
	off := uint64(binary.LittleEndian.Uint32(img[offPayloadOffset:]))
	n := uint64(binary.LittleEndian.Uint32(img[offPayloadLength:]))
	if n == 0 || start+off+n > uint64(len(img)) {
		return nil, fmt.Errorf("%w: payload [%d+%d, %d bytes) lies outside the %d-byte image", ErrUnsupportedKernel, start, off, n, len(img))
	}
	return img[start+off : start+off+n], nil
}

// payloadFormat names the compression of a bzImage payload by its magic bytes.
func payloadFormat(p []byte) string {
	magics := []struct {
		name  string
		magic []byte
	}{
		{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
		{"gzip", []byte{0x1f, 0x8b}},
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
		{"bzip2", []byte("BZh")},
		{"lzo", []byte{0x89, 'L', 'Z', 'O'}},
		{"lz4", []byte{0x02, 0x21, 0x4c, 0x18}},
		{"lzma", []byte{0x5d, 0x00, 0x00}},
		{"elf", []byte{0x7f, 'E', 'L', 'F'}},
	}
	for _, m := range magics {
		if bytes.HasPrefix(p, m.magic) {
			return m.name
		}
	}
	return "unknown"
}

// decompressBzImage writes the vmlinux ELF inside the bzImage img to w. Debian compresses it with
// xz and the x86 BCJ filter, which is why this uses an XZ-Embedded port (BCJ support) rather than
// ulikunitz/xz.
func decompressBzImage(img []byte, w io.Writer) error {
	p, err := bzPayload(img)
	if err != nil {
		return err
	}
	var r io.Reader
	switch f := payloadFormat(p); f {
	case "xz":
		// The kernel build appends the decompressed size as le32 after the xz stream; a
		// single-stream reader stops before it.
		xr, err := xz.NewReader(bytes.NewReader(p), 0)
		if err != nil {
			return fmt.Errorf("xz payload: %w", err)
		}
		xr.Multistream(false)
		r = xr
	case "gzip":
		gr, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return fmt.Errorf("gzip payload: %w", err)
		}
		gr.Multistream(false)
		r = gr
	case "elf":
		r = bytes.NewReader(p)
	default:
		return fmt.Errorf("%w: payload compressed with %s; voidbox decompresses xz and gzip kernels (Debian's are xz)",
			ErrUnsupportedKernel, f)
	}
	n, err := io.Copy(w, io.LimitReader(r, maxVmlinux+1))
	if err != nil {
		return fmt.Errorf("decompressing payload: %w", err)
	}
	if n > maxVmlinux {
		return fmt.Errorf("%w: payload decompresses to more than %d bytes", ErrUnsupportedKernel, maxVmlinux)
	}
	return nil
}
