package guestimage

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// TestParseModinfoRealModules reads every .ko of the image built from Debian's kernel package (the
// shared run against Debian) and checks properties that hold for any kernel set-up can resolve, not
// facts about one release (virtio's dependencies differ between 6.1 point releases): each module's
// .modinfo names it and this release, and every dependency it names is in the manifest, before it.
func TestParseModinfoRealModules(t *testing.T) {
	a := realArtifacts(t)
	if len(a.Modules) == 0 {
		t.Fatal("no modules in the real image")
	}
	var meta kernelMeta
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(a.Kernel), "kernel.json")); err != nil || json.Unmarshal(b, &meta) != nil || meta.Index == nil {
		t.Fatalf("kernel.json: %v", err)
	}
	builtin := map[string]bool{}
	for _, b := range meta.Index.Builtin {
		builtin[b] = true
	}
	pos := map[string]int{}
	for i, m := range a.Modules {
		pos[m.Name] = i
	}
	for i, m := range a.Modules {
		p := filepath.Join(filepath.Dir(a.Kernel), m.Path)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		mi, err := parseModinfo(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if mi.Name != m.Name {
			t.Errorf("%s: .modinfo name %q, manifest %q", p, mi.Name, m.Name)
		}
		if !bytes.Contains([]byte(mi.Vermagic), []byte(a.KernelRelease)) {
			t.Errorf("%s: vermagic %q does not name release %s", m.Name, mi.Vermagic, a.KernelRelease)
		}
		for _, d := range mi.Depends {
			if builtin[d] {
				continue // in the kernel image: nothing to load
			}
			j, ok := pos[d]
			switch {
			case !ok:
				t.Errorf("%s depends on %s (.modinfo), which the image lacks", m.Name, d)
			case j >= i:
				t.Errorf("%s (position %d) depends on %s, loaded later (position %d)", m.Name, i, d, j)
			}
			if !slices.Contains(m.Deps, d) {
				t.Errorf("%s: manifest deps %v lack %s named by .modinfo", m.Name, m.Deps, d)
			}
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
