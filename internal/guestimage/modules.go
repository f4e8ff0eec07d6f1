package guestimage

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// moduleIndex is the dependency information of every module of one kernel package, built once when
// the package is extracted and kept in kernel.json so later module sets need no extraction.
type moduleIndex struct {
	Release string                 `json:"release"`
	Modules map[string]moduleEntry `json:"modules"` // by canonical name
	Builtin []string               `json:"builtin"` // canonical names of built-in modules (modules.builtin)
}

type moduleEntry struct {
	Path string   `json:"path"` // relative to lib/modules/<release>, e.g. "kernel/fs/ext4/ext4.ko"
	Deps []string `json:"deps"` // hard deps plus resolved softdep pre entries, sorted
}

// ManifestModule is one line of the guest's /etc/voidbox/modules.json.
type ManifestModule struct {
	Name string   `json:"name"`
	Path string   `json:"path"` // absolute path in the guest
	Deps []string `json:"deps"` // direct dependencies, all earlier in the manifest
	Boot bool     `json:"boot"` // load at every boot; false means load on demand
}

// buildIndex turns parsed modinfo (keyed by path relative to lib/modules/<release>) into an index.
// Softdep pre entries name a module or an alias; an alias served by several modules resolves to the
// "_generic" one when there is one (portable C code, fine under TCG), else the first by name.
// Unresolvable softdeps are dropped, as modprobe does.
func buildIndex(release string, infos map[string]modInfo, builtin []string) *moduleIndex {
	ix := &moduleIndex{Release: release, Modules: map[string]moduleEntry{}, Builtin: builtin}
	names := map[string]bool{}
	providers := map[string][]string{}
	for _, mi := range infos {
		names[mi.Name] = true
		for _, a := range mi.Aliases {
			providers[a] = append(providers[a], mi.Name)
		}
	}
	resolve := func(tok string) (string, bool) {
		if n := normalizeModName(tok); names[n] {
			return n, true
		}
		ps := providers[tok]
		if len(ps) == 0 {
			return "", false
		}
		sort.Slice(ps, func(i, j int) bool {
			gi, gj := strings.HasSuffix(ps[i], "_generic"), strings.HasSuffix(ps[j], "_generic")
			if gi != gj {
				return gi
			}
			return ps[i] < ps[j]
		})
		return ps[0], true
	}
	for path, mi := range infos {
		deps := slices.Clone(mi.Depends)
		for _, tok := range mi.SoftPre {
			if name, ok := resolve(tok); ok && name != mi.Name {
				deps = append(deps, name)
			}
		}
		slices.Sort(deps)
		ix.Modules[mi.Name] = moduleEntry{Path: path, Deps: slices.Compact(deps)}
	}
	return ix
}

// loadOrder returns the closure of set in an order that loads every module after its dependencies:
// the boot group (and its dependencies) first, then the on-demand group. Built-in modules are
// satisfied already and left out. Every missing module is reported, with who wanted it.
func (ix *moduleIndex) loadOrder(set ModuleSet) ([]ManifestModule, error) {
	builtin := map[string]bool{}
	for _, b := range ix.Builtin {
		builtin[b] = true
	}
	var (
		out     []ManifestModule
		placed  = map[string]bool{}
		missing []error
	)
	// visit appends name after its dependencies; path is the chain that led here, for cycle and
	// missing-module messages.
	var visit func(name string, boot bool, path []string)
	visit = func(name string, boot bool, path []string) {
		if placed[name] || builtin[name] {
			return
		}
		if slices.Contains(path, name) {
			missing = append(missing, fmt.Errorf("module dependency cycle: %s", strings.Join(append(path, name), " → ")))
			return
		}
		e, ok := ix.Modules[name]
		if !ok {
			if len(path) == 0 {
				missing = append(missing, fmt.Errorf("module %q not found in kernel %s", name, ix.Release))
			} else {
				missing = append(missing, fmt.Errorf("module %q (needed by %s) not found in kernel %s", name, strings.Join(path, " → "), ix.Release))
			}
			return
		}
		for _, d := range e.Deps {
			visit(d, boot, append(slices.Clone(path), name))
		}
		placed[name] = true
		var deps []string
		for _, d := range e.Deps {
			if !builtin[d] {
				deps = append(deps, d)
			}
		}
		out = append(out, ManifestModule{
			Name: name,
			Path: "/lib/modules/" + ix.Release + "/" + e.Path,
			Deps: nonNil(deps),
			Boot: boot,
		})
	}
	for _, n := range set.Boot {
		visit(normalizeModName(n), true, nil)
	}
	for _, n := range set.OnDemand {
		visit(normalizeModName(n), false, nil)
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
