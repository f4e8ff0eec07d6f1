package guestinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// moduleManifest is written into the initramfs by the host's image builder.
// Modules are listed in load order (dependencies first).
type moduleManifest struct {
	Kernel  string `json:"kernel"`
	Modules []struct {
		Name string   `json:"name"`
		Path string   `json:"path"`
		Deps []string `json:"deps"`
		Boot bool     `json:"boot"`
	} `json:"modules"`
}

// ensureModules loads the named modules (from the manifest's on-demand
// set) and their dependencies, in manifest order.
func ensureModules(manifest string, names ...string) error {
	b, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	var m moduleManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parsing %s: %w", manifest, err)
	}
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
			return fmt.Errorf("module %s is not in the guest image", n)
		}
		add(n)
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	for _, mod := range m.Modules {
		if !want[mod.Name] {
			continue
		}
		if err := loadModule(mod.Path, moduleParams(string(cmdline), mod.Name)); err != nil {
			return fmt.Errorf("loading module %s: %w", mod.Name, err)
		}
	}
	return nil
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
	cmdline, _ := os.ReadFile("/proc/cmdline")
	// Modules load concurrently, each once its dependencies are in: a probe
	// that waits on its device (virtio_console) does not hold up the others.
	done := map[string]chan struct{}{}
	deps := map[string][]string{}
	for _, mod := range m.Modules {
		deps[mod.Name] = mod.Deps
		if !bootOnly || mod.Boot {
			done[mod.Name] = make(chan struct{})
		}
	}
	var add func(string) error
	add = func(n string) error {
		if _, ok := deps[n]; !ok {
			return fmt.Errorf("module %s is not in the guest image", n)
		}
		if _, ok := done[n]; !ok {
			done[n] = make(chan struct{})
		}
		for _, d := range deps[n] {
			if err := add(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range extra {
		if err := add(n); err != nil {
			return err
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
			if err := loadModule(mod.Path, moduleParams(string(cmdline), mod.Name)); err != nil {
				errs[i] = fmt.Errorf("loading module %s: %w", mod.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
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
