package codex

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// npmTarball builds a tarball with the given members.
func npmTarball(t *testing.T, files map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	sum := sha512.Sum512(buf.Bytes())
	return buf.Bytes(), "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// registry serves one version manifest listing integrity and the tarball.
func registry(t *testing.T, tgz []byte, integrity string) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/@openai%2fcodex/" + PlatformVersion, "/@openai/codex/" + PlatformVersion:
			json.NewEncoder(w).Encode(map[string]any{"name": NPMPackage, "version": PlatformVersion,
				"dist": map[string]string{"tarball": srv.URL + "/codex.tgz", "integrity": integrity}})
		case "/codex.tgz":
			w.Write(tgz)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

var goodFiles = map[string]string{
	"package/package.json":                                   `{"version":"` + PlatformVersion + `"}`,
	"package/vendor/x86_64-unknown-linux-musl/bin/codex":     "\x7fELF codex",
	"package/vendor/x86_64-unknown-linux-musl/codex-path/rg": "\x7fELF rg",
	"package/vendor/x86_64-unknown-linux-musl/bin/other":     "not taken",
}

// TestBuildFromRegistry: the flavour holds exactly the two binaries,
// recorded; Find finds it; a second Build reuses it without the registry.
func TestBuildFromRegistry(t *testing.T) {
	tgz, sri := npmTarball(t, goodFiles)
	srv := registry(t, tgz, sri)
	cache := t.TempDir()
	im, err := Build(context.Background(), Options{CacheDir: cache, Registry: srv.URL, pinned: sri})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(im.Dir, "bin", "codex")); string(b) != "\x7fELF codex" {
		t.Errorf("bin/codex = %q", b)
	}
	if _, err := os.Stat(filepath.Join(im.Dir, "bin", "other")); err == nil {
		t.Error("an unneeded file was unpacked")
	}
	if len(im.Files) != 2 || im.Files["bin/rg"].Size != 7 || im.Integrity != sri {
		t.Errorf("image %+v", im)
	}
	srv.Close()
	again, err := Build(context.Background(), Options{CacheDir: cache, Registry: srv.URL, pinned: sri})
	if err != nil || again.Dir != im.Dir {
		t.Fatalf("rebuild: %v %v", again, err)
	}
	// A file that changed size is noticed.
	os.WriteFile(filepath.Join(im.Dir, "bin", "rg"), []byte("x"), 0o755)
	if _, err := Find(cache); !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), "voidbox image build codex") {
		t.Errorf("Find after damage: %v", err)
	}
}

// TestBuildRefusesOtherDigests: a registry listing another integrity, or a
// tarball that does not match the pinned one, is refused and leaves nothing.
func TestBuildRefusesOtherDigests(t *testing.T) {
	tgz, sri := npmTarball(t, goodFiles)
	_, otherSRI := npmTarball(t, map[string]string{"package/x": "y"})
	for name, c := range map[string]struct{ listed, pinned string }{
		"listed differs":  {listed: otherSRI, pinned: sri},
		"tarball differs": {listed: otherSRI, pinned: otherSRI},
	} {
		cache := t.TempDir()
		srv := registry(t, tgz, c.listed)
		_, err := Build(context.Background(), Options{CacheDir: cache, Registry: srv.URL, pinned: c.pinned})
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := Find(cache); !errors.Is(err, ErrImageMissing) {
			t.Errorf("%s: a flavour was left: %v", name, err)
		}
	}
	if Integrity != "sha512-l66NZkQgdk2C3pbcfULDz42yEUB581MVA6I+Y43Wp4OIqEy73HCdmZ0GTjeAHY2ycuH4N00d9VsLrwT1jxshTw==" {
		t.Error("the pin changed: check it against npm view @openai/codex@" + PlatformVersion + " dist.integrity")
	}
}

// TestBuildMissingMember: a tarball without the binary is refused.
func TestBuildMissingMember(t *testing.T) {
	tgz, sri := npmTarball(t, map[string]string{"package/vendor/x86_64-unknown-linux-musl/bin/codex": "x"})
	srv := registry(t, tgz, sri)
	_, err := Build(context.Background(), Options{CacheDir: t.TempDir(), Registry: srv.URL, pinned: sri})
	if err == nil || !strings.Contains(err.Error(), "1 of the 2 files") {
		t.Errorf("err = %v", err)
	}
}
