package vmm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// QEMU 7.2 opens a memory backend's mem-path by name (plain open(2), not
// through -add-fd's fd sets, measured: "/dev/fdset/2: No such file or
// directory"), read-write unless readonly=on, which also maps guest RAM
// read-only. A jailed QEMU can therefore only reach guest RAM through an
// inherited descriptor's /proc/self/fd link, and reopening that link checks
// the inode's own permissions: a 0600 file of voidbox's is refused. A memfd
// is not (its inode is 0777, reachable only by whoever holds it), and a
// sealed one cannot be written, grown or shrunk by anyone, so QEMU can map
// it private (share=off) but never write it through, nor punch holes in it
// (QEMU 7.2 discards RAM of private file mappings with fallocate).

// memSeals make an image immutable: a shared writable mapping of it fails
// (EPERM), a private one gets copy-on-write pages.
const memSeals = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// MemoryImage is a snapshot's guest RAM in a sealed memfd, which any number
// of restores map private at once (they share its pages, as they would a
// file's page cache). Close drops this handle; a running QEMU keeps its own.
type MemoryImage struct {
	f         *os.File
	size      int64
	closeOnce sync.Once
}

// OpenMemoryImage copies the memory file at path into a new sealed memfd,
// leaving holes where the file has holes or zero pages (they read as zero
// and take no memory).
func OpenMemoryImage(path string) (_ *MemoryImage, err error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the memory image: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, err
	}
	dst, err := newMemfd("voidbox-snapshot", fi.Size())
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			dst.Close()
		}
	}()
	if err := copySparse(dst, src, fi.Size()); err != nil {
		return nil, fmt.Errorf("copying %s into memory: %w", path, err)
	}
	return seal(dst, fi.Size())
}

func seal(f *os.File, size int64) (*MemoryImage, error) {
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, memSeals); err != nil {
		return nil, fmt.Errorf("sealing the memory image: %w", err)
	}
	return &MemoryImage{f: f, size: size}, nil
}

// sealImage makes a template's memfd an image: its zero pages punched out
// (they read as zero and take no memory), then sealed. On error f stays
// the caller's.
func sealImage(f *os.File) (*MemoryImage, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := punchZeros(f, fi.Size()); err != nil {
		return nil, fmt.Errorf("dropping zero pages: %w", err)
	}
	return seal(f, fi.Size())
}

// punchZeros frees f's pages that hold only zeros.
func punchZeros(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	zero := make([]byte, pageSize)
	return eachData(f, size, buf, func(b []byte, off int64) error {
		zeroAt := func(i int) bool { e := min(i+pageSize, len(b)); return bytes.Equal(b[i:e], zero[:e-i]) }
		for i := 0; i < len(b); {
			if !zeroAt(i) {
				i += pageSize
				continue
			}
			j := i
			for j < len(b) && zeroAt(j) {
				j += pageSize
			}
			j = min(j, len(b))
			if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off+int64(i), int64(j-i)); err != nil {
				return err
			}
			i = j
		}
		return nil
	})
}

// copySparse copies the first size bytes of src into dst (as long, and
// all holes) at the same offsets, skipping src's holes (SEEK_DATA) and
// pages of zeros within its data.
func copySparse(dst, src *os.File, size int64) error {
	zero := make([]byte, pageSize)
	return eachData(src, size, make([]byte, 1<<20), func(b []byte, off int64) error {
		return writeNonZero(dst, b, off, zero)
	})
}

// eachData calls fn with the data of f's first size bytes, skipping holes
// (SEEK_DATA), in pieces of up to len(buf) bytes and their offsets; b is
// buf, reused.
func eachData(f *os.File, size int64, buf []byte, fn func(b []byte, off int64) error) error {
	for off := int64(0); off < size; {
		data, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return nil // no data past off
		}
		if err != nil {
			return err
		}
		hole, err := f.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		hole = min(hole, size)
		for pos := data; pos < hole; {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), hole-pos)], pos)
			if n == 0 && err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			if err := fn(buf[:n], pos); err != nil {
				return err
			}
			pos += int64(n)
		}
		off = hole
	}
	return nil
}

// pageSize is the granularity zeros are skipped at (the guest's pages).
const pageSize = 4096

// writeNonZero writes b at off in dst, page by page, leaving all-zero
// pages unwritten (dst reads as zero there already).
func writeNonZero(dst *os.File, b []byte, off int64, zero []byte) error {
	for i := 0; i < len(b); {
		j := min(i+pageSize, len(b))
		if bytes.Equal(b[i:j], zero[:j-i]) {
			i = j
			continue
		}
		// Coalesce a run of non-zero pages into one write.
		k := j
		for k < len(b) {
			e := min(k+pageSize, len(b))
			if bytes.Equal(b[k:e], zero[:e-k]) {
				break
			}
			k = e
		}
		if _, err := dst.WriteAt(b[i:k], off+int64(i)); err != nil {
			return err
		}
		i = k
	}
	return nil
}

// Size is the image's length in bytes (the guest's RAM).
func (im *MemoryImage) Size() int64 { return im.size }

// Allocated is the memory the image takes (its holes take none).
func (im *MemoryImage) Allocated() int64 {
	var st unix.Stat_t
	if err := unix.Fstat(int(im.f.Fd()), &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// Close releases this handle on the image. Idempotent.
func (im *MemoryImage) Close() error {
	var err error
	im.closeOnce.Do(func() { err = im.f.Close() })
	return err
}

// newMemfd is an empty memfd of size bytes that can be sealed.
func newMemfd(name string, size int64) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("sizing the memfd: %w", err)
	}
	return f, nil
}
