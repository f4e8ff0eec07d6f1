package setup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindQEMUOnThisHost uses the real PATH: voidbox's VM tests need QEMU, so its absence fails here.
func TestFindQEMUOnThisHost(t *testing.T) {
	t.Setenv("VOIDBOX_QEMU", "")
	p, err := FindQEMU()
	if err != nil {
		t.Fatalf("FindQEMU: %v (install qemu-system-x86)", err)
	}
	if filepath.Base(p) != qemuBinary {
		t.Errorf("FindQEMU = %s", p)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s is not an executable file: %v", p, err)
	}
}

func TestFindQEMUOverride(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "my-qemu")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VOIDBOX_QEMU", fake)
	if p, err := FindQEMU(); err != nil || p != fake {
		t.Errorf("override to %s: %s, %v", fake, p, err)
	}
	missing := filepath.Join(t.TempDir(), "absent")
	t.Setenv("VOIDBOX_QEMU", missing)
	_, err := FindQEMU()
	if !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), missing) {
		t.Errorf("override to a missing file: %v", err)
	}
	// An explicit override is never "fixed" by installing something else.
	h := recordingHost(t, false)
	h.root, h.debian = true, true
	h.getenv = func(k string) string {
		if k == "VOIDBOX_QEMU" {
			return missing
		}
		return ""
	}
	if _, err := ensureQEMU(context.Background(), nil, h.host); err == nil || len(h.cmds) != 0 {
		t.Errorf("bad override: err %v, ran %v", err, h.cmds)
	}
}

// recorder is a host whose PATH lacks QEMU until an apt-get install "installs" it into a temp dir,
// and which records every command instead of running it.
type recorder struct {
	host
	cmds    []string
	envs    [][]string
	outputs map[string]string // command line → output; an entry makes that command fail
}

func recordingHost(t *testing.T, installWorks bool) *recorder {
	bin := t.TempDir()
	r := &recorder{outputs: map[string]string{}}
	r.host = host{
		getenv: func(string) string { return "" },
		lookPath: func(name string) (string, error) {
			p := filepath.Join(bin, name)
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return p, nil
		},
		run: func(_ context.Context, progress io.Writer, env []string, name string, args ...string) ([]byte, error) {
			line := strings.Join(append([]string{name}, args...), " ")
			r.cmds = append(r.cmds, line)
			r.envs = append(r.envs, env)
			if out, fail := r.outputs[line]; fail {
				delete(r.outputs, line) // fails once
				return []byte(out), errors.New("exit status 100")
			}
			if installWorks && strings.HasPrefix(line, "apt-get install") {
				os.WriteFile(filepath.Join(bin, qemuBinary), []byte("#!/bin/sh\n"), 0o755)
			}
			return nil, nil
		},
	}
	return r
}

func TestEnsureQEMUNotRootOrNotDebian(t *testing.T) {
	for _, c := range []struct{ root, debian bool }{{false, true}, {true, false}, {false, false}} {
		h := recordingHost(t, true)
		h.root, h.debian = c.root, c.debian
		_, err := ensureQEMU(context.Background(), nil, h.host)
		var md *MissingDependencyError
		if !errors.As(err, &md) || md.Package != qemuPackage || !strings.Contains(err.Error(), "apt-get install --no-install-recommends qemu-system-x86") {
			t.Errorf("root=%v debian=%v: %v, want a MissingDependencyError naming %s", c.root, c.debian, err, qemuPackage)
		}
		if len(h.cmds) != 0 {
			t.Errorf("root=%v debian=%v: ran %v", c.root, c.debian, h.cmds)
		}
	}
}

func TestEnsureQEMUInstallsAsRootOnDebian(t *testing.T) {
	h := recordingHost(t, true)
	h.root, h.debian = true, true
	// Fresh container: apt's lists are empty, so the first install fails and update must run.
	h.outputs["apt-get install -y --no-install-recommends qemu-system-x86"] = "E: Unable to locate package qemu-system-x86\n"
	var log bytes.Buffer
	p, err := ensureQEMU(context.Background(), &log, h.host)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != qemuBinary {
		t.Errorf("path %s", p)
	}
	want := []string{
		"apt-get install -y --no-install-recommends qemu-system-x86",
		"apt-get update",
		"apt-get install -y --no-install-recommends qemu-system-x86",
	}
	if strings.Join(h.cmds, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(h.cmds, "\n"), strings.Join(want, "\n"))
	}
	for i, env := range h.envs {
		if len(env) != 1 || env[0] != "DEBIAN_FRONTEND=noninteractive" {
			t.Errorf("command %d env %v", i, env)
		}
	}
	if !strings.Contains(log.String(), "installing qemu-system-x86") {
		t.Errorf("progress: %q", log.String())
	}
}

func TestEnsureQEMUInstallFailure(t *testing.T) {
	h := recordingHost(t, false)
	h.root, h.debian = true, true
	h.outputs["apt-get install -y --no-install-recommends qemu-system-x86"] = "E: Could not get lock /var/lib/dpkg/lock-frontend\n"
	_, err := ensureQEMU(context.Background(), nil, h.host)
	if err == nil || !strings.Contains(err.Error(), "installing qemu-system-x86") || len(h.cmds) != 1 {
		t.Errorf("install failure: %v after %v", err, h.cmds)
	}
	// Installed, but still not on PATH: the missing-dependency error, not success.
	h = recordingHost(t, false)
	h.root, h.debian = true, true
	if _, err := ensureQEMU(context.Background(), nil, h.host); !errors.Is(err, ErrMissingDependency) {
		t.Errorf("install that provides nothing: %v", err)
	}
}
