package wire

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestCheckCommandName(t *testing.T) {
	re := regexp.MustCompile(CommandNamePattern)
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"sh", true}, {"python3.11", true}, {"g++", true}, {"[", true}, {".hidden", true}, {"...", true},
		{"", false}, {".", false}, {"..", false}, {"/bin/echo", false}, {"bin/sh", false}, {"rm -rf", false},
		{"a\tb", false}, {"a\nb", false}, {"a\x00b", false}, {"a\u00a0b", false},
	} {
		err := CheckCommandName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("CheckCommandName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		// The schema's pattern says the same, but for the two names it
		// refuses separately.
		if schemaOK := re.MatchString(c.name) && c.name != "." && c.name != ".."; schemaOK != c.ok && c.name != "a\u00a0b" {
			t.Errorf("pattern on %q: %v, CheckCommandName: %v", c.name, schemaOK, c.ok)
		}
	}
}

func TestAllowlistNilAndEmpty(t *testing.T) {
	if p, err := AllowedProgram(nil, "/tmp/anything"); err != nil || p != "/tmp/anything" {
		t.Errorf("nil allowlist refused a program: %v", err)
	}
	for _, p := range []string{"/bin/sh", "/usr/bin/id", "/bin/echo"} {
		if _, err := AllowedProgram([]string{}, p); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("empty allowlist allowed %s: %v", p, err)
		}
		if err := CheckCommandAllowed([]string{}, filepath.Base(p)); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("empty allowlist allowed the name %s: %v", filepath.Base(p), err)
		}
	}
}

func TestAllowlistNamesInTrustedDirs(t *testing.T) {
	allowed := []string{"cat", "sh"}
	for _, p := range []string{"/bin/cat", "/usr/bin/cat", "/bin/sh", "/bin/./cat", "/usr/bin/../bin/cat"} {
		got, err := AllowedProgram(allowed, p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if want, _ := filepath.EvalSymlinks(p); got != want {
			t.Errorf("%s: run %s, want the file resolved (%s)", p, got, want)
		}
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "bin")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/tmp/cat", dir + "/cat", link + "/cat", "/bin/../tmp/cat", "cat", "./cat", "/bin/id", "/bin/cat/../id",
		link + "/../cat", "/usr/local/sbin/cat",
	} {
		if _, err := AllowedProgram(allowed, p); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s allowed: %v", p, err)
		}
	}
}
