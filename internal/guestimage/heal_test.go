package guestimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/artifact"
)

// TestDamagedCacheIsNeverBootedAndRepaired: a truncated vmlinux, a
// truncated initramfs, a deleted module and a damaged kept package are
// each found by a start's lookup (not booted) and by Verify, and repaired
// by the next Ensure without a download while the kept package is intact.
func TestDamagedCacheIsNeverBootedAndRepaired(t *testing.T) {
	arch := newTestArchive(t)
	a, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(arch.cache); err != nil {
		t.Fatalf("fresh cache: %v", err)
	}
	module := filepath.Join(filepath.Dir(a.Kernel), filepath.FromSlash(koRel(a.Modules[0])))
	kept, _ := filepath.Glob(filepath.Join(arch.cache, "debs", "linux-image-*.deb"))
	if len(kept) != 1 {
		t.Fatalf("kept kernel packages: %v", kept)
	}
	for _, c := range []struct {
		name      string
		damage    func(t *testing.T)
		path      string
		downloads int // kernel downloads the repair needs
	}{
		{"truncated vmlinux", func(t *testing.T) { truncate(t, a.Kernel) }, a.Kernel, 0},
		{"truncated initramfs", func(t *testing.T) { truncate(t, a.Initramfs) }, a.Initramfs, 0},
		{"deleted module", func(t *testing.T) { os.Remove(module) }, module, 0},
		{"deleted module and damaged package", func(t *testing.T) { os.Remove(module); truncate(t, kept[0]) }, module, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.damage(t)
			_, err := Lookup(context.Background(), arch.options())
			if !errors.Is(err, ErrNotPrepared) || !errors.Is(err, artifact.ErrDamaged) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("lookup of a damaged cache: %v", err)
			}
			if got := artifact.Damaged(Verify(arch.cache)); len(got) == 0 || got[0] != c.path && !strings.HasSuffix(c.name, "package") {
				t.Fatalf("Verify names %v, want %s", got, c.path)
			}
			before := arch.src.count(arch.src.downloads, "linux-image-"+testRelease)
			var log bytes.Buffer
			o := arch.options()
			o.Progress = &log
			b, err := Ensure(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := arch.src.count(arch.src.downloads, "linux-image-"+testRelease) - before; got != c.downloads ||
				!strings.Contains(log.String(), "repairing the cache: "+c.path) || b.Digest != a.Digest {
				t.Fatalf("repair: %d downloads (want %d), digest %s (want %s), progress:\n%s", got, c.downloads, b.Digest, a.Digest, log.String())
			}
			if _, err := Lookup(context.Background(), arch.options()); err != nil {
				t.Fatalf("lookup after the repair: %v", err)
			}
			if err := Verify(arch.cache); err != nil {
				t.Fatalf("Verify after the repair: %v", err)
			}
		})
	}
}

// TestUnrecordedFilesAreNotBooted: files a set-up wrote but did not record
// (it died before saving the records) are not taken for valid.
func TestUnrecordedFilesAreNotBooted(t *testing.T) {
	arch := newTestArchive(t)
	a, err := Ensure(context.Background(), arch.options())
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(arch.cache, "artifacts.json"))
	if _, err := Lookup(context.Background(), arch.options()); !errors.Is(err, ErrNotPrepared) || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("lookup with unrecorded archives: %v", err)
	}
	if _, err := Ensure(context.Background(), arch.options()); err != nil {
		t.Fatal(err)
	}
	if b, err := Lookup(context.Background(), arch.options()); err != nil || b.Initramfs != a.Initramfs {
		t.Fatalf("after set-up: %v", err)
	}
}

// TestLookupTrustsTheDigestMemo: a start takes the guest init's digest from
// what set-up recorded while the file's size, times and inode are
// unchanged, and reads the file again once they change.
func TestLookupTrustsTheDigestMemo(t *testing.T) {
	arch := newTestArchive(t)
	if _, err := Ensure(context.Background(), arch.options()); err != nil {
		t.Fatal(err)
	}
	memoPath := filepath.Join(arch.cache, "digests.json")
	b, err := os.ReadFile(memoPath)
	if err != nil {
		t.Fatal(err)
	}
	var memo map[string]memoEntry
	if err := json.Unmarshal(b, &memo); err != nil || len(memo) != 1 {
		t.Fatalf("memo %s: %v", b, err)
	}
	// A memo that lies about the digest is believed: proof that the file
	// was not read again.
	for p, e := range memo {
		e.Digest = strings.Repeat("0", 64)
		memo[p] = e
	}
	lie, _ := json.Marshal(memo)
	os.WriteFile(memoPath, lie, 0o644)
	if _, err := Lookup(context.Background(), arch.options()); !errors.Is(err, ErrNotPrepared) {
		t.Fatalf("lookup with a lying memo: %v", err)
	}
	os.WriteFile(memoPath, b, 0o644)
	if _, err := Lookup(context.Background(), arch.options()); err != nil {
		t.Fatal(err)
	}
	// A rebuilt guest init (same size, new content) is read again: its image is not there.
	orig, _ := os.ReadFile(arch.guestInit)
	changed := bytes.Replace(orig, []byte("stand-in"), []byte("STAND-IN"), 1)
	os.Remove(arch.guestInit)
	os.WriteFile(arch.guestInit, changed, 0o755)
	if _, err := Lookup(context.Background(), arch.options()); !errors.Is(err, ErrNotPrepared) {
		t.Fatalf("lookup after the guest init changed: %v", err)
	}
}

func truncate(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
}
