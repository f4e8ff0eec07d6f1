package guestimage

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseModinfoSynthetic(t *testing.T) {
	ko := testModule(t,
		"alias=crypto-crc32c", "alias=pci:v00001AF4d*", "softdep=pre: crypto-crc32c foo-bar post: baz",
		"depends=jbd2,mbcache,crc-16", "retpoline=Y", "name=ext4", "vermagic=6.1.0-57-amd64 SMP mod_unload")
	mi, err := parseModinfo(bytes.NewReader(ko))
	if err != nil {
		t.Fatal(err)
	}
	want := modInfo{
		Name:     "ext4",
		Depends:  []string{"jbd2", "mbcache", "crc_16"},
		SoftPre:  []string{"crypto-crc32c", "foo-bar"},
		Aliases:  []string{"crypto-crc32c"},
		Vermagic: "6.1.0-57-amd64 SMP mod_unload",
	}
	if !reflect.DeepEqual(mi, want) {
		t.Errorf("parseModinfo:\n got %+v\nwant %+v", mi, want)
	}
}

func TestParseModinfoErrors(t *testing.T) {
	if _, err := parseModinfo(bytes.NewReader([]byte("not an elf file at all"))); err == nil {
		t.Error("non-ELF input: no error")
	}
	if _, err := parseModinfo(bytes.NewReader(testModule(t, "depends=virtio"))); err == nil {
		t.Error("modinfo without name=: no error")
	}
}

// TestParseModinfoRealModules reads .ko files from Debian's kernel package (the shared run against Debian) and
// checks the dependencies this image relies on, as verified by hand with modinfo.
func TestParseModinfoRealModules(t *testing.T) {
	a := realArtifacts(t)
	paths := map[string]string{}
	for _, m := range a.Modules {
		paths[m.Name] = filepath.Join(filepath.Dir(a.Kernel), m.Path)
	}
	want := map[string][]string{
		"virtio_ring":    nil,
		"virtio":         {"virtio_ring"},
		"virtio_mmio":    {"virtio", "virtio_ring"},
		"virtio_console": {"virtio", "virtio_ring"},
		"virtio_rng":     {"virtio", "virtio_ring"},
		"qemu_fw_cfg":    nil,
	}
	for name, deps := range want {
		b, err := os.ReadFile(paths[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mi, err := parseModinfo(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := append([]string(nil), mi.Depends...)
		if mi.Name != name || !sameSet(got, deps) {
			t.Errorf("%s: name %q depends %v, want depends %v", paths[name], mi.Name, got, deps)
		}
		if mi.Vermagic == "" || !bytes.Contains([]byte(mi.Vermagic), []byte(a.KernelRelease)) {
			t.Errorf("%s: vermagic %q does not name release %s", name, mi.Vermagic, a.KernelRelease)
		}
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}
