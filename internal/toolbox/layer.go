package toolbox

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/voidbox/voidbox/internal/deb"
)

// epoch is every file's time in the configure layer, so equal inputs give
// equal bytes (and an equal image digest).
var epoch = time.Unix(0, 0).UTC()

// writeLayer writes one gzip'd tar layer with the data of every .deb, in
// order, followed by what the packages' maintainer scripts would have made
// (which voidbox does not run): see configure.
func writeLayer(ctx context.Context, out string, debs []string) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := gzip.NewWriter(f) // no name or time in the header: reproducible
	tw := tar.NewWriter(zw)
	u := &unpacked{seen: map[string]byte{}}
	for _, debPath := range debs {
		if err := deb.Walk(ctx, debPath, func(name string, h *tar.Header, r io.Reader) error {
			return u.add(tw, name, h, r)
		}); err != nil {
			return err
		}
	}
	if err := u.configure(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// unpacked tracks what the layer holds so far.
type unpacked struct {
	seen  map[string]byte   // name → typeflag of the entry written
	certs map[string][]byte // usr/share/ca-certificates/… → PEM
}

func (u *unpacked) add(tw *tar.Writer, name string, h *tar.Header, r io.Reader) error {
	if prev, ok := u.seen[name]; ok && (prev == tar.TypeDir || h.Typeflag == tar.TypeDir) {
		return nil // every package lists its directories; the first one's metadata stands
	}
	hdr := *h
	hdr.Name = name
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	if hdr.Typeflag == tar.TypeLink {
		hdr.Linkname = path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
	}
	hdr.Format = tar.FormatPAX
	if err := tw.WriteHeader(&hdr); err != nil {
		return err
	}
	var data io.Reader = r
	if hdr.Typeflag == tar.TypeReg && strings.HasPrefix(name, "usr/share/ca-certificates/") && strings.HasSuffix(name, ".crt") {
		var b bytes.Buffer
		data = io.TeeReader(r, &b)
		defer func() {
			if u.certs == nil {
				u.certs = map[string][]byte{}
			}
			u.certs[name] = b.Bytes()
		}()
	}
	if hdr.Typeflag == tar.TypeReg {
		if _, err := io.CopyN(tw, data, hdr.Size); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	u.seen[name] = hdr.Typeflag
	return nil
}

// configure adds the files maintainer scripts would have made: the
// accounts (base-passwd), the CA bundle (update-ca-certificates, with every
// certificate the package ships enabled, as its default answer does),
// /bin/sh (dash's postinst), and the usual writable directories.
func (u *unpacked) configure(tw *tar.Writer) error {
	files := []struct {
		name string
		mode int64
		data string
	}{
		{"etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nuser:x:1000:1000:user:/home/user:/bin/bash\n"},
		{"etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n"},
		{"etc/hostname", 0o644, "voidbox\n"},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, u.caBundle()},
	}
	dirs := []struct {
		name     string
		mode     int64
		uid, gid int
	}{{"tmp", 0o1777, 0, 0}, {"var/tmp", 0o1777, 0, 0}, {"root", 0o700, 0, 0}, {"home/user", 0o755, 1000, 1000}, {"etc/ssl/certs", 0o755, 0, 0}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name + "/", Mode: d.mode, Uid: d.uid, Gid: d.gid, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, f.data); err != nil {
			return err
		}
	}
	if _, ok := u.seen["bin/sh"]; !ok {
		if _, dash := u.seen["bin/dash"]; dash {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "dash", Mode: 0o777, ModTime: epoch})
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/sh", Linkname: "bash", Mode: 0o777, ModTime: epoch})
	}
	return nil
}

// caBundle concatenates the certificates in name order.
func (u *unpacked) caBundle() string {
	names := make([]string, 0, len(u.certs))
	for n := range u.certs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		c := u.certs[n]
		b.Write(c)
		if len(c) > 0 && c[len(c)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.String()
}
