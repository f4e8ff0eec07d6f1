package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testFile is one file of a test package.
type testFile struct {
	data []byte
	mode os.FileMode
}

// buildDeb makes a real .deb with dpkg-deb, compressing the data member with comp (xz, gzip, zstd, none).
func buildDeb(t *testing.T, name, version, comp string, files map[string]testFile) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil { // "./" in the data archive, whatever the umask
		t.Fatal(err)
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: voidbox tests <tests@example.invalid>\nDescription: test package\n", name, version)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, f := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name+".deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+comp, "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, b)
	}
	return out
}

func TestWalkCompressions(t *testing.T) {
	files := map[string]testFile{
		"boot/vmlinuz-x":      {bytes.Repeat([]byte("kernel"), 1000), 0o644},
		"lib/modules/x/a.ko":  {[]byte("odd"), 0o644},
		"usr/share/doc/x/txt": {[]byte("doc\n"), 0o644},
	}
	for _, comp := range []string{"xz", "gzip", "none"} {
		deb := buildDeb(t, "walk-test", "1.0", comp, files)
		got := map[string][]byte{}
		err := Walk(context.Background(), deb, func(name string, h *tar.Header, r io.Reader) error {
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(r)
				got[name] = b
				return err
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", comp, err)
			continue
		}
		for name, f := range files {
			if !bytes.Equal(got[name], f.data) {
				t.Errorf("%s: %s = %q, want %q", comp, name, got[name], f.data)
			}
		}
	}
	deb := buildDeb(t, "walk-test", "1.0", "zstd", files)
	err := Walk(context.Background(), deb, func(string, *tar.Header, io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "unsupported compression") {
		t.Errorf("zstd data member: %v", err)
	}
}

// arFile writes an ar archive by hand: GNU-style names, odd sizes (padding) and all.
func arFile(members map[string]string, order []string) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, name := range order {
		data := members[name]
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name+"/", 0, 0, 0, "100644", len(data))
		b.WriteString(data)
		if len(data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestArReader(t *testing.T) {
	members := map[string]string{"debian-binary": "2.0\n", "odd": "abc", "data.tar": "payload!"}
	order := []string{"debian-binary", "odd", "data.tar"}
	ar, err := newArReader(bytes.NewReader(arFile(members, order)))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range order {
		name, size, err := ar.Next()
		if err != nil {
			t.Fatal(err)
		}
		if name != want || size != int64(len(members[want])) {
			t.Errorf("member %d: %q (%d bytes), want %q", i, name, size, want)
		}
		if i == 1 {
			continue // skipping an unread, odd-sized member must keep the stream aligned
		}
		data, err := io.ReadAll(ar)
		if err != nil || string(data) != members[want] {
			t.Errorf("%s: %q, %v", want, data, err)
		}
	}
	if _, _, err := ar.Next(); err != io.EOF {
		t.Errorf("after last member: %v, want EOF", err)
	}

	if _, err := newArReader(strings.NewReader("PK\x03\x04 a zip")); err == nil {
		t.Error("bad magic accepted")
	}
	truncated := arFile(members, order)
	truncated = truncated[:len(truncated)-5]
	ar, _ = newArReader(bytes.NewReader(truncated))
	var lastErr error
	for lastErr == nil {
		_, _, lastErr = ar.Next()
		if lastErr == nil {
			_, lastErr = io.ReadAll(ar)
		}
	}
	if lastErr == io.EOF {
		t.Error("truncated archive read as complete")
	}
}

func TestWalkNotADeb(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.deb")
	os.WriteFile(p, []byte("!<arch>\n"), 0o644)
	if err := Walk(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "no data.tar") {
		t.Errorf("empty ar: %v", err)
	}
}
