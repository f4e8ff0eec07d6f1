package guestinit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/wire"
)

// fakeImage lays out a trusted directory like the guest's /bin: busybox with
// applet links, an ELF, scripts; and an untrusted one the user owns. The
// rule never runs a file, so contents only need the right first bytes.
func fakeImage(t *testing.T) (bin, user string) {
	t.Helper()
	root := t.TempDir()
	bin, user = filepath.Join(root, "bin"), filepath.Join(root, "user")
	for _, d := range []string{bin, user} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := func(name, content string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file("busybox", "\x7fELF busybox")
	file("env", "\x7fELF env")
	file("python3", "\x7fELF python")
	file("script", "#!"+bin+"/sh -e\necho hi\n")
	file("pyscript", "#! "+bin+"/python3\nprint(1)\n")
	file("envscript", "#!"+bin+"/env python3\n")
	for _, a := range []string{"sh", "echo", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(filepath.Join(bin, "cat"), filepath.Join(user, "mycat"))
	os.Symlink(bin, filepath.Join(user, "bindir"))
	os.WriteFile(filepath.Join(user, "own"), []byte("\x7fELF mine"), 0o755)
	return bin, user
}

func TestExecRule(t *testing.T) {
	bin, user := fakeImage(t)
	rule := func(allowed ...string) *execRule {
		return &execRule{allowed: allowed, dirs: []string{bin}, busybox: filepath.Join(bin, "busybox")}
	}
	self := os.Getpid()
	call := func(p string, argv ...string) execCall {
		return execCall{pid: self, tid: self, dirfd: atFDCWD, path: p, argv: argv}
	}
	bbFile, err := os.Open(filepath.Join(bin, "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	defer bbFile.Close()
	binDir, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer binDir.Close()
	cases := []struct {
		name    string
		rule    *execRule
		call    execCall
		deny    string // "" allowed; else a part of the reason
		program string
		applet  string
	}{
		{"allowed applet", rule("sh", "echo"), call(bin+"/sh", "sh", "-c", "cat /etc/passwd"), "", "sh", "sh"},
		{"cat by its link", rule("sh", "echo"), call(bin+"/cat", "cat", "/etc/passwd"), `"cat" (a busybox applet) is not in allowed_commands`, "cat", "cat"},
		{"busybox not listed", rule("sh", "echo"), call(bin+"/busybox", "busybox", "cat"), `"cat" (a busybox applet)`, "cat", "cat"},
		{"busybox sh is sh", rule("sh"), call(bin+"/busybox", "busybox", "sh"), "", "sh", "sh"},
		{"busybox itself needs its name", rule("sh"), call(bin+"/busybox", "busybox", "--list"), `"busybox" (a busybox applet)`, "busybox", "busybox"},
		{"the resolved link as PID 1 execs it", rule("sh"), call(bin+"/busybox", "sh", "-c", "x"), "", "sh", "sh"},
		{"busybox APPLET", rule("sh", "busybox"), call(bin+"/busybox", "busybox", "cat", "/x"), `"cat" (a busybox applet)`, "cat", "cat"},
		{"busybox busybox APPLET", rule("busybox"), call(bin+"/busybox", "busybox", "busybox", "cat"), `"cat" (a busybox applet)`, "cat", "cat"},
		{"busybox --list", rule("busybox"), call(bin+"/busybox", "busybox", "--list"), "", "busybox", "busybox"},
		{"argv[0] picks the applet", rule("sh"), call(bin+"/sh", "cat", "/etc/passwd"), `"cat" (a busybox applet)`, "cat", "cat"},
		{"user symlink to cat", rule("sh", "cat"), call(user+"/mycat", "mycat"), "outside the trusted directories", "mycat", ""},
		{"user program", rule("own"), call(user+"/own", "own"), "outside the trusted directories", "own", ""},
		{"trusted dir through a user link", rule("sh"), call(user+"/bindir/sh", "sh"), "", "sh", "sh"},
		{"relative to a directory fd", rule("sh"),
			execCall{pid: self, tid: self, dirfd: int(binDir.Fd()), path: "sh", argv: []string{"sh"}}, "", "sh", "sh"},
		{"/proc/self link to busybox as sh", rule("sh"),
			execCall{pid: self, tid: self, dirfd: int(bbFile.Fd()), empty: true, argv: []string{"sh"}}, "", "sh", "sh"},
		{"/proc/self link to busybox as cat", rule("sh"),
			execCall{pid: self, tid: self, dirfd: int(bbFile.Fd()), empty: true, argv: []string{"cat"}}, `"cat" (a busybox applet)`, "cat", "cat"},
		{"/proc/self/exe of this test", rule("sh"), call("/proc/self/exe", "sh"), "not a program allowed_commands lists", "", ""},
		{"ELF", rule("env"), call(bin+"/env", "env", "cat"), "", "env", ""},
		{"script of an allowed interpreter", rule("script", "sh"), call(bin+"/script", "script", "a"), "", "sh", "sh"},
		{"script not listed", rule("sh"), call(bin+"/script", "script"), `"script" is not in`, "script", ""},
		{"script of a refused interpreter", rule("pyscript"), call(bin+"/pyscript", "pyscript"), "its interpreter " + bin + "/python3", "pyscript (python3)", ""},
		{"env script checks env", rule("envscript", "env"), call(bin+"/envscript", "envscript"), "", "env", ""},
		{"missing", rule("nope"), call(bin+"/nope", "nope"), "no such file", "nope", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.rule.check(tc.call)
			switch {
			case tc.deny == "" && v.err != nil:
				t.Fatalf("denied: %v", v.err)
			case tc.deny != "" && (v.err == nil || !strings.Contains(v.err.Error(), tc.deny) || !errors.Is(v.err, wire.ErrNotAllowed)):
				t.Fatalf("got %v, want a denial with %q", v.err, tc.deny)
			}
			if v.program != tc.program || v.applet != tc.applet {
				t.Errorf("program %q applet %q, want %q %q", v.program, v.applet, tc.program, tc.applet)
			}
			if v.err == nil && v.want == (fileID{}) {
				t.Error("allowed without an identity to verify after the exec")
			}
		})
	}
	// What must run after a script's exec is its interpreter.
	v := rule("script", "sh").check(call(bin+"/script", "script"))
	bb, _ := os.Stat(filepath.Join(bin, "busybox"))
	if v.want != idOf(bb) {
		t.Errorf("script's identity to verify is not the interpreter's")
	}
}

func TestAppletOf(t *testing.T) {
	for argv, want := range map[string]string{
		"sh -c x":                "sh",
		"/bin/cat f":             "cat",
		"busybox cat f":          "cat",
		"/bin/busybox ls":        "ls",
		"busybox busybox cat":    "cat",
		"busybox --list":         "busybox",
		"busybox":                "busybox",
		"busybox /usr/bin/env x": "env",
	} {
		if got := appletOf(strings.Fields(argv)); got != want {
			t.Errorf("appletOf(%q) = %q, want %q", argv, got, want)
		}
	}
	if appletOf(nil) != "" || appletOf([]string{""}) != "" {
		t.Error("no argv[0] must name no applet")
	}
}

func TestShebang(t *testing.T) {
	for content, want := range map[string][2]string{
		"#!/bin/sh\n":                   {"/bin/sh", ""},
		"#! /bin/sh -e -x\n":            {"/bin/sh", "-e -x"},
		"#!/usr/bin/env python3":        {"/usr/bin/env", "python3"},
		"#!\t/bin/sh\t\n":               {"/bin/sh", ""},
		"#!\n":                          {"", ""},
		"\x7fELF":                       {"", ""},
		"#!" + strings.Repeat("a", 300): {"/", ""},
	} {
		f, err := os.CreateTemp(t.TempDir(), "s")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(content)
		interp, arg, ok := shebang(f)
		f.Close()
		if want[0] == "/" { // over-long: cut at 256 bytes like the kernel
			if !ok || len(interp) != 254 {
				t.Errorf("long shebang: %d bytes", len(interp))
			}
			continue
		}
		if ok != (want[0] != "") || interp != want[0] || arg != want[1] {
			t.Errorf("shebang(%q) = %q %q %v, want %q %q", content, interp, arg, ok, want[0], want[1])
		}
	}
}
