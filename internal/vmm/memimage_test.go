package vmm

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMemoryImage: the image reads as the file did (data, zero pages and
// holes), takes no memory for zeros, and is sealed: it cannot be written,
// resized or mapped shared-writable, while a private mapping gets pages of
// its own and leaves the image as it was.
func TestMemoryImage(t *testing.T) {
	const size = 64 << 20
	path := filepath.Join(t.TempDir(), "memory")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	clear(data[1<<20 : 1<<20+8*pageSize]) // zero pages inside the data
	for _, off := range []int64{0, 17 << 20, size - int64(len(data))} {
		if _, err := f.WriteAt(data, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	start := time.Now()
	im, err := OpenMemoryImage(path)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	t.Logf("loaded %d MiB with 9 MiB of data in %v", size>>20, time.Since(start))
	if im.Size() != size {
		t.Fatalf("size %d", im.Size())
	}
	want, _ := os.ReadFile(path)
	got, err := io.ReadAll(io.NewSectionReader(im.f, 0, size))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the image does not read as the file (%v)", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(im.f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 9<<20-8*pageSize {
		t.Fatalf("the image takes %d bytes, more than its non-zero data", used)
	}

	if _, err := im.f.WriteAt([]byte("x"), 0); !errors.Is(err, unix.EPERM) {
		t.Fatalf("writing the image: want EPERM, got %v", err)
	}
	if err := im.f.Truncate(size * 2); !errors.Is(err, unix.EPERM) {
		t.Fatalf("growing the image: want EPERM, got %v", err)
	}
	if err := unix.Fallocate(int(im.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 1<<20); !errors.Is(err, unix.EPERM) {
		t.Fatalf("punching a hole in the image: want EPERM, got %v", err)
	}
	if _, err := unix.Mmap(int(im.f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); !errors.Is(err, unix.EPERM) {
		t.Fatalf("a shared writable mapping: want EPERM, got %v", err)
	}
	m, err := unix.Mmap(int(im.f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("a private mapping: %v", err)
	}
	copy(m, "private")
	unix.Munmap(m)
	head := make([]byte, 7)
	if _, err := im.f.ReadAt(head, 0); err != nil || !bytes.Equal(head, want[:7]) {
		t.Fatalf("a private mapping's write reached the image: %q %v", head, err)
	}
	if err := im.Close(); err != nil || im.Close() != nil {
		t.Fatal("Close is not idempotent")
	}
}

// TestSealImageDropsZeros: a template's memfd becomes an image that reads
// the same, without memory for its zero pages, and sealed.
func TestSealImageDropsZeros(t *testing.T) {
	f, err := newMemfd("t", 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	page := bytes.Repeat([]byte{7}, pageSize)
	f.WriteAt(make([]byte, 4<<20), 0) // allocated zeros
	f.WriteAt(page, 1<<20)
	f.WriteAt(page, 6<<20)
	want, _ := io.ReadAll(io.NewSectionReader(f, 0, 8<<20))
	im, err := sealImage(f)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	got, _ := io.ReadAll(io.NewSectionReader(im.f, 0, 8<<20))
	var st unix.Stat_t
	unix.Fstat(int(im.f.Fd()), &st)
	if !bytes.Equal(got, want) || st.Blocks*512 != 2*pageSize {
		t.Fatalf("sealed image: equal %v, %d bytes allocated (want %d)", bytes.Equal(got, want), st.Blocks*512, 2*pageSize)
	}
	if _, err := im.f.WriteAt(page, 0); !errors.Is(err, unix.EPERM) {
		t.Fatalf("writing the sealed image: %v", err)
	}
}
