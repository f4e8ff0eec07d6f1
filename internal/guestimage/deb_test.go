package guestimage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWalkDebCompressions(t *testing.T) {
	files := map[string]testFile{
		"boot/vmlinuz-x":      {bytes.Repeat([]byte("kernel"), 1000), 0o644},
		"lib/modules/x/a.ko":  {[]byte("odd"), 0o644},
		"usr/share/doc/x/txt": {[]byte("doc\n"), 0o644},
	}
	for _, comp := range []string{"xz", "gzip", "none"} {
		deb := buildDeb(t, "walk-test", "1.0", comp, files)
		got := map[string][]byte{}
		err := walkDeb(context.Background(), deb, func(name string, h *tar.Header, r io.Reader) error {
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
	err := walkDeb(context.Background(), deb, func(string, *tar.Header, io.Reader) error { return nil })
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

func TestWalkDebNotADeb(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.deb")
	os.WriteFile(p, []byte("!<arch>\n"), 0o644)
	if err := walkDeb(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "no data.tar") {
		t.Errorf("empty ar: %v", err)
	}
}
