package claudecode

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// elfInfo is what the flavour needs to know about one ELF file.
type elfInfo struct {
	interp string   // PT_INTERP, "" for a shared library
	needed []string // DT_NEEDED
}

// readELF checks that file is an x86-64 ELF and returns its loader and
// needed libraries. Only headers and the dynamic section are read.
func readELF(file string) (elfInfo, error) {
	f, err := elf.Open(file)
	if err != nil {
		return elfInfo{}, err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return elfInfo{}, fmt.Errorf("%s: %s %s, want ELFCLASS64 EM_X86_64", path.Base(file), f.Class, f.Machine)
	}
	var info elfInfo
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
		if err != nil {
			return elfInfo{}, fmt.Errorf("%s: reading PT_INTERP: %w", path.Base(file), err)
		}
		info.interp = strings.TrimRight(string(b), "\x00")
	}
	info.needed, err = f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return elfInfo{}, fmt.Errorf("%s: reading DT_NEEDED: %w", path.Base(file), err)
	}
	return info, nil
}

// libFile is one library of the closure: its soname and where it is.
type libFile struct {
	name string
	path string
}

// libClosure follows DT_NEEDED from the executables to every library they
// load, transitively, finding each by soname with lookup. It returns the
// libraries (the loader among them, first) and the loader path the
// executables were linked against, which must be the same for all. Every
// soname lookup cannot find is reported.
func libClosure(execs []string, lookup func(soname string) (string, bool)) ([]libFile, string, error) {
	var (
		libs     []libFile
		interp   string
		problems []error
		seen     = map[string]bool{}
		queue    []string
	)
	need := func(from string, names []string) {
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			p, ok := lookup(n)
			if !ok {
				problems = append(problems, fmt.Errorf("%s needs %s, which the Debian packages do not provide", path.Base(from), n))
				continue
			}
			libs = append(libs, libFile{name: n, path: p})
			queue = append(queue, p)
		}
	}
	for _, x := range execs {
		info, err := readELF(x)
		if err != nil {
			return nil, "", err
		}
		switch {
		case info.interp == "":
			return nil, "", fmt.Errorf("%s: not a dynamically linked executable (no PT_INTERP)", path.Base(x))
		case interp == "":
			interp = info.interp
			need(x, []string{path.Base(interp)})
		case info.interp != interp:
			return nil, "", fmt.Errorf("%s wants loader %s, %s wants %s", path.Base(execs[0]), interp, path.Base(x), info.interp)
		}
		need(x, info.needed)
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		info, err := readELF(p)
		if err != nil {
			return nil, "", err
		}
		need(p, info.needed)
	}
	return libs, interp, errors.Join(problems...)
}
