package guestimage

import (
	"strings"
	"testing"
)

// testIndex builds an index from modinfo the way extraction does.
func testIndex(builtin ...string) *moduleIndex {
	infos := map[string]modInfo{
		"kernel/drivers/virtio/virtio_ring.ko":        {Name: "virtio_ring"},
		"kernel/drivers/virtio/virtio.ko":             {Name: "virtio", Depends: []string{"virtio_ring"}},
		"kernel/drivers/virtio/virtio_mmio.ko":        {Name: "virtio_mmio", Depends: []string{"virtio", "virtio_ring"}},
		"kernel/drivers/char/hw_random/virtio-rng.ko": {Name: "virtio_rng", Depends: []string{"virtio", "virtio_ring"}},
		"kernel/fs/ext4/ext4.ko":                      {Name: "ext4", Depends: []string{"jbd2", "mbcache", "crc16"}, SoftPre: []string{"crypto-crc32c"}},
		"kernel/fs/jbd2/jbd2.ko":                      {Name: "jbd2", SoftPre: []string{"crypto-crc32c"}},
		"kernel/fs/mbcache.ko":                        {Name: "mbcache"},
		"kernel/lib/crc16.ko":                         {Name: "crc16"},
		"kernel/crypto/crc32c_generic.ko":             {Name: "crc32c_generic", Aliases: []string{"crypto-crc32c", "crc32c"}},
		"kernel/arch/x86/crypto/crc32c-intel.ko":      {Name: "crc32c_intel", Aliases: []string{"crypto-crc32c", "crc32c"}},
		"kernel/lib/libcrc32c.ko":                     {Name: "libcrc32c", SoftPre: []string{"crc32c", "no-such-alias"}},
		"kernel/fs/erofs/erofs.ko":                    {Name: "erofs", Depends: []string{"libcrc32c"}},
		"kernel/fs/a.ko":                              {Name: "cyc_a", Depends: []string{"cyc_b"}},
		"kernel/fs/b.ko":                              {Name: "cyc_b", Depends: []string{"cyc_a"}},
		"kernel/fs/broken.ko":                         {Name: "broken", Depends: []string{"ghost"}},
	}
	return buildIndex("6.1.0-test", infos, builtin)
}

func TestLoadOrderDepsFirstBootFirst(t *testing.T) {
	ix := testIndex()
	order, err := ix.loadOrder(ModuleSet{Boot: []string{"virtio_mmio", "virtio-rng"}, OnDemand: []string{"erofs", "ext4", "virtio"}})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range order {
		if _, dup := pos[m.Name]; dup {
			t.Errorf("%s listed twice", m.Name)
		}
		pos[m.Name] = i
	}
	for _, m := range order {
		for _, d := range m.Deps {
			if pos[d] >= pos[m.Name] {
				t.Errorf("%s (at %d) loads before its dependency %s (at %d)", m.Name, pos[m.Name], d, pos[d])
			}
		}
		if !strings.HasPrefix(m.Path, "/lib/modules/6.1.0-test/kernel/") || !strings.HasSuffix(m.Path, ".ko") {
			t.Errorf("%s: path %q", m.Name, m.Path)
		}
	}
	// Boot modules and everything they need come first and are marked boot; virtio is wanted on
	// demand too but is already a boot dependency, so it stays a boot module.
	boot := map[string]bool{"virtio_ring": true, "virtio": true, "virtio_mmio": true, "virtio_rng": true}
	for i, m := range order {
		if m.Boot != boot[m.Name] {
			t.Errorf("%s: boot=%v, want %v", m.Name, m.Boot, boot[m.Name])
		}
		if i < len(boot) && !m.Boot {
			t.Errorf("on-demand module %s at %d precedes boot modules", m.Name, i)
		}
	}
	// Softdeps resolve through aliases to the portable _generic provider; unknown aliases are dropped.
	if _, ok := pos["crc32c_generic"]; !ok {
		t.Errorf("ext4's softdep crypto-crc32c did not pull in crc32c_generic: %v", names(order))
	}
	if _, ok := pos["crc32c_intel"]; ok {
		t.Errorf("crc32c_intel chosen although a _generic provider exists")
	}
	want := []string{"virtio_ring", "virtio", "virtio_mmio", "virtio_rng", "erofs", "libcrc32c", "crc32c_generic",
		"ext4", "jbd2", "mbcache", "crc16"}
	if !sameSet(names(order), want) {
		t.Errorf("closure %v, want the set %v", names(order), want)
	}
}

func TestLoadOrderBuiltinsAreSatisfied(t *testing.T) {
	ix := testIndex("virtio_ring", "virtio")
	order, err := ix.loadOrder(ModuleSet{Boot: []string{"virtio_ring", "virtio_mmio"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 1 || order[0].Name != "virtio_mmio" || len(order[0].Deps) != 0 {
		t.Errorf("with virtio built in: %+v", order)
	}
}

func TestLoadOrderReportsEveryProblem(t *testing.T) {
	ix := testIndex()
	_, err := ix.loadOrder(ModuleSet{Boot: []string{"nope1"}, OnDemand: []string{"broken", "nope2", "cyc_a"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"nope1" not found`, `"nope2" not found`, `"ghost" (needed by broken) not found`, "cycle: cyc_a → cyc_b → cyc_a"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func names(ms []ManifestModule) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}
