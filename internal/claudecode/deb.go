package claudecode

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/therootcompany/xz"
)

// walkDeb calls fn for every entry of the data archive of the .deb at
// debPath, with the entry's cleaned relative name. A .deb is an ar(1)
// archive (deb(5)) whose data.tar member holds the files; Debian
// compresses it with xz, and gzip and plain tar are allowed.
func walkDeb(debPath string, fn func(name string, h *tar.Header, r io.Reader) error) error {
	f, err := os.Open(debPath)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return fmt.Errorf("%s: not a .deb (bad ar magic)", debPath)
	}
	for {
		name, size, err := arNext(br)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: no data.tar member", debPath)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", debPath, err)
		}
		member := io.LimitReader(br, size)
		if !strings.HasPrefix(name, "data.tar") {
			if _, err := io.Copy(io.Discard, member); err != nil {
				return fmt.Errorf("%s: %w", debPath, err)
			}
			if size%2 == 1 {
				_, _ = br.ReadByte()
			}
			continue
		}
		var data io.Reader
		switch path.Ext(name) {
		case ".tar":
			data = member
		case ".xz":
			data, err = xz.NewReader(member, 0)
		case ".gz":
			data, err = gzip.NewReader(member)
		default:
			err = fmt.Errorf("%s: unsupported compression (xz, gzip and plain tar are read)", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", debPath, err)
		}
		if err := walkTar(data, fn); err != nil {
			return fmt.Errorf("%s: %s: %w", debPath, name, err)
		}
		return nil
	}
}

// arNext reads one 60-byte ar member header and returns the member's name
// and size.
func arNext(r io.Reader) (string, int64, error) {
	var hdr [60]byte
	n, err := io.ReadFull(r, hdr[:])
	if n == 0 && errors.Is(err, io.EOF) {
		return "", 0, io.EOF
	}
	if err != nil {
		return "", 0, fmt.Errorf("reading ar header: %w", err)
	}
	if string(hdr[58:60]) != "`\n" {
		return "", 0, errors.New("corrupt ar header")
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("corrupt ar member size %q", hdr[48:58])
	}
	return strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/"), size, nil
}

func walkTar(r io.Reader, fn func(name string, h *tar.Header, r io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") || strings.HasPrefix(name, "/") {
			continue
		}
		if err := fn(name, h, tr); err != nil {
			return err
		}
	}
}
