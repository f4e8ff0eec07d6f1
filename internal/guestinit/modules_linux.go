package guestinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// moduleManifest is written into the initramfs by the host's image builder.
// Modules are listed in load order (dependencies first).
type moduleManifest struct {
	Kernel string `json:"kernel"`
	// Builtin: the kernel has every module built in (the slim kernel).
	Builtin bool `json:"builtin"`
	Modules []struct {
		Name string   `json:"name"`
		Path string   `json:"path"`
		Deps []string `json:"deps"`
		Boot bool     `json:"boot"`
	} `json:"modules"`
}

// ensureModules loads the named modules (from the manifest's on-demand
// set) and their dependencies, each once its dependencies are in, the
// independent ones concurrently. A module already loaded, or being loaded
// by another goroutine (a preload), is waited for by the kernel and then
// reported as present.
func ensureModules(manifest string, names ...string) error {
	b, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	var m moduleManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parsing %s: %w", manifest, err)
	}
	if m.Builtin {
		return nil
	}
	want, err := withDeps(m, names)
	if err != nil {
		return err
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	return loadConcurrently(m, string(cmdline), func(name string, _ bool) bool { return want[name] })
}

// withDeps is the set of names and everything they depend on; a name
// the manifest lacks is an error.
func withDeps(m moduleManifest, names []string) (map[string]bool, error) {
	deps := map[string][]string{}
	for _, mod := range m.Modules {
		deps[mod.Name] = mod.Deps
	}
	want := map[string]bool{}
	var add func(string)
	add = func(n string) {
		if want[n] {
			return
		}
		want[n] = true
		for _, d := range deps[n] {
			add(d)
		}
	}
	for _, n := range names {
		if _, ok := deps[n]; !ok {
			return nil, fmt.Errorf("module %s is not in the guest image", n)
		}
		add(n)
	}
	return want, nil
}

// loadConcurrently loads the manifest's modules that pick selects, each
// once those of its dependencies that are selected are in.
func loadConcurrently(m moduleManifest, cmdline string, pick func(name string, boot bool) bool) error {
	done := map[string]chan struct{}{}
	for _, mod := range m.Modules {
		if pick(mod.Name, mod.Boot) {
			done[mod.Name] = make(chan struct{})
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(m.Modules))
	for i, mod := range m.Modules {
		ch, ok := done[mod.Name]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ch)
			for _, d := range mod.Deps {
				if dch, ok := done[d]; ok {
					<-dch
				}
			}
			if loaded(mod.Name) {
				return
			}
			if err := loadModule(mod.Path, moduleParams(cmdline, mod.Name)); err != nil {
				errs[i] = fmt.Errorf("loading module %s: %w", mod.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// loadModules loads the manifest's boot modules (or all, if bootOnly is false)
// and the extra ones with their dependencies, with finit_module, passing the
// "name.param=value" arguments found on the kernel command line, as
// modprobe would.
func loadModules(manifest string, bootOnly bool, extra ...string) error {
	b, err := os.ReadFile(manifest)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a kernel with everything built in needs no modules
	}
	if err != nil {
		return err
	}
	var m moduleManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parsing %s: %w", manifest, err)
	}
	if m.Builtin {
		return nil
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	// Modules load concurrently, each once its dependencies are in: a probe
	// that waits on its device (virtio_console) does not hold up the others.
	want, err := withDeps(m, extra)
	if err != nil {
		return err
	}
	return loadConcurrently(m, string(cmdline), func(name string, boot bool) bool { return !bootOnly || boot || want[name] })
}

// loaded reports whether module name is live already (a preload, or an
// earlier feature, loaded it). finit_module would say so too, but only
// after reading and verifying the whole module, which costs tens of
// milliseconds under TCG.
func loaded(name string) bool {
	b, err := os.ReadFile("/sys/module/" + strings.ReplaceAll(name, "-", "_") + "/initstate")
	return err == nil && strings.TrimSpace(string(b)) == "live"
}

func loadModule(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), params, 0)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// moduleParams extracts "name.key=value" words for module name from a kernel
// command line. Module names treat '-' and '_' alike.
func moduleParams(cmdline, name string) string {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	prefix := norm(name) + "."
	var params []string
	for _, w := range strings.Fields(cmdline) {
		if k, v, ok := strings.Cut(w, "."); ok && norm(k)+"." == prefix {
			params = append(params, v)
		}
	}
	return strings.Join(params, " ")
}

// startPreload loads, in the background, the on-demand modules the host
// named on the kernel command line (voidbox.preload=a,b: those the
// handshake will need, such as the image root's), so their loading overlaps
// the rest of the boot instead of following the host's hello. The channel
// is closed when they are loaded; a failure only logs: the handshake loads
// them again and reports it.
func startPreload() <-chan struct{} {
	done := make(chan struct{})
	cmdline, _ := os.ReadFile("/proc/cmdline")
	var names []string
	for _, w := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(w, wire.PreloadParam+"="); ok {
			names = strings.Split(v, ",")
		}
	}
	if len(names) == 0 {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := ensureModules(ModulesFile, names...); err != nil {
			logf(4, "preloading modules: %v", err)
		}
	}()
	return done
}
