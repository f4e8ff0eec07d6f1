package claudecode

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/deb"
)

// fakeRegistry serves one version of NPMPackage whose "claude" is a copy
// of the host's /bin/true: a real glibc executable, small enough for unit
// tests.
type fakeRegistry struct {
	*httptest.Server
	version   string
	tarball   []byte
	integrity string // what the manifest claims

	downloads atomic.Int32 // tarball GETs
}

func newFakeRegistry(t *testing.T, version string) *fakeRegistry {
	t.Helper()
	bin, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatalf("the fake registry packs the host's /bin/true: %v", err)
	}
	pj := fmt.Sprintf(`{"name":%q,"version":%q}`, NPMPackage, version)
	r := &fakeRegistry{version: version, tarball: tgz(t, map[string][]byte{
		"package/package.json": []byte(pj),
		"package/README.md":    []byte("fake\n"),
		"package/claude":       bin,
	})}
	sum := sha512.Sum512(r.tarball)
	r.integrity = "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *fakeRegistry) serve(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.URL.Path == "/tarballs/claude.tgz":
		r.downloads.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(r.tarball)))
		_, _ = w.Write(r.tarball)
	case strings.HasPrefix(req.URL.Path, "/"+NPMPackage+"/"):
		v := strings.TrimPrefix(req.URL.Path, "/"+NPMPackage+"/")
		if v != r.version {
			http.Error(w, `{"error":"version not found: `+v+`"}`, http.StatusNotFound)
			return
		}
		m := map[string]any{"name": NPMPackage, "version": v, "dist": map[string]string{
			"tarball": r.URL + "/tarballs/claude.tgz", "integrity": r.integrity,
		}}
		_ = json.NewEncoder(w).Encode(m)
	default:
		http.NotFound(w, req)
	}
}

// tgz packs files into a gzip tarball, in sorted order.
func tgz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeDebian serves libc6, libtinfo6 and bash as .debs made from the
// host's own files, laid out as Debian ships them (symlinks included).
type fakeDebian struct {
	t        *testing.T
	mu       sync.Mutex
	versions map[string]string // guarded by mu
	fetched  map[string]int    // guarded by mu: downloads per package
}

func newFakeDebian(t *testing.T) *fakeDebian {
	return &fakeDebian{t: t, versions: map[string]string{
		"libc6": "2.36-9+deb12u99", "libtinfo6": "6.4-4", "bash": "5.2.15-2+b13",
	}, fetched: map[string]int{}}
}

func (f *fakeDebian) setVersion(pkg, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.versions[pkg] = v
}

func (f *fakeDebian) downloads() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.fetched {
		out[k] = v
	}
	return out
}

func (f *fakeDebian) Show(_ context.Context, name string) (deb.Package, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.versions[name]
	if !ok {
		return deb.Package{}, fmt.Errorf("%w: %s", deb.ErrNotFound, name)
	}
	return deb.Package{Name: name, Version: v}, nil
}

func (f *fakeDebian) Download(_ context.Context, name, version, dir string) (string, error) {
	f.mu.Lock()
	f.fetched[name]++
	f.mu.Unlock()
	const lib = "/lib/x86_64-linux-gnu/"
	var entries []debEntry
	switch name {
	case "libc6":
		for _, so := range []string{"ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2"} {
			entries = append(entries, debEntry{name: "lib/x86_64-linux-gnu/" + so, src: lib + so})
		}
		entries = append(entries, debEntry{name: "lib64/ld-linux-x86-64.so.2", link: lib + "ld-linux-x86-64.so.2"})
	case "libtinfo6":
		real, err := filepath.EvalSymlinks(lib + "libtinfo.so.6")
		if err != nil {
			return "", err
		}
		entries = append(entries,
			debEntry{name: "lib/x86_64-linux-gnu/" + filepath.Base(real), src: real},
			debEntry{name: "lib/x86_64-linux-gnu/libtinfo.so.6", link: filepath.Base(real)})
	case "bash":
		entries = append(entries, debEntry{name: "bin/bash", src: "/bin/bash"}, debEntry{name: "usr/share/doc/bash/README", data: []byte("doc\n")})
	default:
		return "", fmt.Errorf("fake apt has no %s", name)
	}
	p := filepath.Join(dir, name+"_"+version+"_amd64.deb")
	debBytes, _ := debCache.LoadOrStore(name, sync.OnceValue(func() []byte { return makeDeb(f.t, entries) }))
	if err := os.WriteFile(p, debBytes.(func() []byte)(), 0o644); err != nil {
		return "", err
	}
	return p, nil
}

// debCache keeps each fake .deb once per test binary: compressing libc
// for every test would dominate the run time.
var debCache sync.Map // package name → func() []byte

// debEntry is one file of a fake .deb: data, a host file (src) or a symlink.
type debEntry struct {
	name string
	src  string
	data []byte
	link string
}

// makeDeb writes a .deb: an ar archive of debian-binary, control.tar.gz
// and data.tar.gz (deb(5)).
func makeDeb(t *testing.T, entries []debEntry) []byte {
	t.Helper()
	var data bytes.Buffer
	zw := gzip.NewWriter(&data)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: "./" + e.name, Mode: 0o644, ModTime: time.Unix(0, 0)}
		body := e.data
		switch {
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		case e.src != "":
			b, err := os.ReadFile(e.src)
			if err != nil {
				t.Fatalf("fake deb: %v", err)
			}
			body, h.Mode = b, 0o755
			fallthrough
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var ar bytes.Buffer
	ar.WriteString("!<arch>\n")
	member := func(name string, b []byte) {
		fmt.Fprintf(&ar, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(b))
		ar.Write(b)
		if len(b)%2 == 1 {
			ar.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.gz", tgz(t, map[string][]byte{"./control": []byte("Package: fake\n")}))
	member("data.tar.gz", data.Bytes())
	return ar.Bytes()
}

func sriOf(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}
