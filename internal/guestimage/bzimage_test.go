package guestimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// testBzImage lays out a synthetic bzImage: setup sectors with a boot-protocol 2.15 header, then
// the protected-mode part with pre bytes of stub code before the payload (as the real
// decompressor stub sits before it).
func testBzImage(setupSects byte, payload []byte) []byte {
	sects := int(setupSects)
	if sects == 0 {
		sects = 4
	}
	const pre = 0x2cc
	img := make([]byte, (sects+1)*512+pre)
	img[offSetupSects] = setupSects
	copy(img[offHeaderMagic:], "HdrS")
	binary.LittleEndian.PutUint16(img[offVersion:], 0x020f)
	binary.LittleEndian.PutUint32(img[offPayloadOffset:], pre)
	binary.LittleEndian.PutUint32(img[offPayloadLength:], uint32(len(payload)))
	img = append(img, payload...)
	return append(img, bytes.Repeat([]byte{0xee}, 512)...) // trailing stub data after the payload
}

// kernelXZ compresses b the way Linux's scripts/xz_wrap.sh does for x86 (BCJ x86 + LZMA2, CRC32)
// with the real xz tool, then appends the decompressed size as size_append does.
func kernelXZ(t *testing.T, b []byte) []byte {
	t.Helper()
	cmd := exec.Command("xz", "--format=xz", "--check=crc32", "--x86", "--lzma2=dict=1MiB", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz (from xz-utils, needed to make a BCJ-filtered test kernel): %v", err)
	}
	return binary.LittleEndian.AppendUint32(out, uint32(len(b)))
}

func TestBzPayloadHeader(t *testing.T) {
	payload := []byte{0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3}
	for _, sects := range []byte{0, 4, 27, 39} {
		got, err := bzPayload(testBzImage(sects, payload))
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("setup_sects=%d: payload %x, %v", sects, got, err)
		}
	}
	bad := map[string][]byte{
		"short":   make([]byte, 0x100),
		"no HdrS": func() []byte { b := testBzImage(4, payload); copy(b[offHeaderMagic:], "XXXX"); return b }(),
		"old proto": func() []byte {
			b := testBzImage(4, payload)
			binary.LittleEndian.PutUint16(b[offVersion:], 0x0206)
			return b
		}(),
		"past end": func() []byte {
			b := testBzImage(4, payload)
			binary.LittleEndian.PutUint32(b[offPayloadLength:], 1<<30)
			return b
		}(),
		"zero-sized": func() []byte {
			b := testBzImage(4, payload)
			binary.LittleEndian.PutUint32(b[offPayloadLength:], 0)
			return b
		}(),
	}
	for name, img := range bad {
		if _, err := bzPayload(img); !errors.Is(err, ErrUnsupportedKernel) {
			t.Errorf("%s: err = %v, want ErrUnsupportedKernel", name, err)
		}
	}
}

func TestDecompressBzImage(t *testing.T) {
	vmlinux := testVmlinux(t, 0x1000000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(vmlinux)
	zw.Close()
	for name, payload := range map[string][]byte{
		"xz+bcj": kernelXZ(t, vmlinux),
		"gzip":   gz.Bytes(),
		"plain":  vmlinux,
	} {
		var out bytes.Buffer
		if err := decompressBzImage(testBzImage(39, payload), &out); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(out.Bytes(), vmlinux) {
			t.Errorf("%s: decompressed %d bytes, want the %d-byte ELF", name, out.Len(), len(vmlinux))
		}
		entry, err := checkPVH(bytes.NewReader(out.Bytes()))
		if err != nil || entry != 0x1000000 {
			t.Errorf("%s: PVH entry %#x, %v", name, entry, err)
		}
	}
}

func TestDecompressBzImageUnsupported(t *testing.T) {
	for name, payload := range map[string][]byte{
		"zstd":  {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		"lz4":   {0x02, 0x21, 0x4c, 0x18, 0, 0},
		"bzip2": []byte("BZh91AY&SY"),
	} {
		err := decompressBzImage(testBzImage(4, payload), &bytes.Buffer{})
		if !errors.Is(err, ErrUnsupportedKernel) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s payload: err = %v, want ErrUnsupportedKernel naming %s", name, err, name)
		}
	}
	// A corrupt xz stream is an error, not a truncated kernel.
	xzBad := kernelXZ(t, testVmlinux(t, 0x1000000))
	xzBad[len(xzBad)/2] ^= 0xff
	if err := decompressBzImage(testBzImage(4, xzBad), &bytes.Buffer{}); err == nil {
		t.Error("corrupt xz payload: no error")
	}
}

func TestCheckPVH(t *testing.T) {
	if _, err := checkPVH(bytes.NewReader(testVmlinux(t, 0))); !errors.Is(err, ErrUnsupportedKernel) || !strings.Contains(err.Error(), "PVH") {
		t.Errorf("ELF without Xen note: %v", err)
	}
	if _, err := checkPVH(bytes.NewReader([]byte("MZ this is not ELF"))); !errors.Is(err, ErrUnsupportedKernel) {
		t.Errorf("non-ELF: %v", err)
	}
}
