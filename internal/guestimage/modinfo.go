package guestimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"strings"
)

// modInfo is what a .ko says about itself in its .modinfo ELF section: NUL-separated key=value
// strings written by modpost. Debian's package ships no modules.dep (depmod runs at install time), so
// dependencies come from here.
type modInfo struct {
	Name     string
	Depends  []string // hard dependencies: modules whose symbols this one uses
	SoftPre  []string // "softdep=pre: …" names or aliases, loaded first by modprobe
	Aliases  []string // only plain aliases (no wildcards, no "bus:" prefixes), for softdep lookup
	Vermagic string
}

// parseModinfo reads the .modinfo section of a kernel module.
func parseModinfo(r io.ReaderAt) (modInfo, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return modInfo{}, fmt.Errorf("not an ELF module: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return modInfo{}, fmt.Errorf("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return modInfo{}, fmt.Errorf("reading .modinfo: %w", err)
	}
	var mi modInfo
	for _, kv := range bytes.Split(data, []byte{0}) {
		key, val, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue // padding between entries
		}
		switch key {
		case "name":
			mi.Name = normalizeModName(val)
		case "depends":
			mi.Depends = append(mi.Depends, splitModList(val, ",")...)
		case "softdep":
			mi.SoftPre = append(mi.SoftPre, softdepPre(val)...)
		case "alias":
			if !strings.ContainsAny(val, "*?[:") {
				mi.Aliases = append(mi.Aliases, val)
			}
		case "vermagic":
			mi.Vermagic = val
		}
	}
	if mi.Name == "" {
		return mi, fmt.Errorf(".modinfo has no name=")
	}
	return mi, nil
}

// softdepPre returns the names after "pre:" in a softdep value such as "pre: crypto-crc32c post: foo".
// The pre list is what must be loaded before the module for it to work without a modprobe in the
// guest (ext4 and jbd2 ask the crypto API for crc32c at mount time).
func softdepPre(val string) []string {
	var out []string
	in := false
	for _, tok := range strings.Fields(val) {
		switch tok {
		case "pre:":
			in = true
		case "post:":
			in = false
		default:
			if in {
				out = append(out, tok)
			}
		}
	}
	return out
}

func splitModList(s, sep string) []string {
	var out []string
	for _, n := range strings.Split(s, sep) {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, normalizeModName(n))
		}
	}
	return out
}

// normalizeModName maps a module name to the kernel's canonical form: '-' and '_' are equivalent in
// module names and the kernel reports '_'.
func normalizeModName(n string) string {
	return strings.ReplaceAll(strings.TrimSuffix(n, ".ko"), "-", "_")
}
