package tools

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent/shell"
)

// toolSet returns the built-in tools on a fresh workspace.
func toolSet(t *testing.T, allowed ...string) (map[string]Tool, string, *[]shell.Denial) {
	t.Helper()
	ws := t.TempDir()
	p, err := shell.NewPolicy(allowed)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	denied := &[]shell.Denial{}
	env := Env{
		Workspace: ws, Vars: []string{"PATH=/usr/bin:/bin"}, Policy: p, AllowedCommands: allowed,
		OnDenied: func(d shell.Denial) { mu.Lock(); *denied = append(*denied, d); mu.Unlock() },
	}
	set := map[string]Tool{}
	for _, tl := range Builtin(env) {
		if !ValidName(tl.Name) || !json.Valid(tl.Schema) {
			t.Fatalf("tool %q: bad name or schema", tl.Name)
		}
		set[tl.Name] = tl
	}
	return set, ws, denied
}

func call(t *testing.T, tl Tool, input string) Result {
	t.Helper()
	return tl.Call(context.Background(), json.RawMessage(input))
}

func TestBashRunsInTheWorkspace(t *testing.T) {
	set, ws, _ := toolSet(t)
	res := call(t, set["bash"], `{"command":"echo hi > out.txt; pwd; exit 4"}`)
	if res.IsError || res.ExitCode == nil || *res.ExitCode != 4 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(res.Content, ws+"\n") || !strings.Contains(res.Content, "[exit status 4]") {
		t.Errorf("content %q", res.Content)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "out.txt")); string(b) != "hi\n" {
		t.Errorf("out.txt = %q", b)
	}
}

func TestBashDenialIsReported(t *testing.T) {
	set, _, denied := toolSet(t, "cat")
	res := call(t, set["bash"], `{"command":"curl http://x; echo still here"}`)
	if !res.Denied || len(*denied) != 1 || (*denied)[0].Command != "curl http://x" {
		t.Fatalf("result %+v, denials %v", res, *denied)
	}
	if !strings.Contains(res.Content, "[denied by policy: curl http://x:") || !strings.Contains(res.Content, "still here") {
		t.Errorf("content %q", res.Content)
	}
	if !strings.Contains(set["bash"].Description, "cat") {
		t.Errorf("description does not list the allowlist: %q", set["bash"].Description)
	}
}

func TestBashTimeout(t *testing.T) {
	set, _, _ := toolSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := set["bash"].Call(ctx, json.RawMessage(`{"command":"sleep 20"}`))
	if !res.IsError || res.Error != "timed out" || !strings.Contains(res.Content, "timed out") {
		t.Errorf("result %+v", res)
	}
}

func TestBadInputs(t *testing.T) {
	set, _, _ := toolSet(t)
	for name, input := range map[string]string{
		"bash":       `{"command":""}`,
		"read_file":  `{}`,
		"write_file": `{"path":"x"}`,
		"edit_file":  `{"path":"x","old_string":"a"}`,
		"list_dir":   `{"path":"does-not-exist"}`,
	} {
		if res := call(t, set[name], input); !res.IsError || res.Error == "" {
			t.Errorf("%s(%s) = %+v, want an error", name, input, res)
		}
		if res := call(t, set[name], `{"path": tru`); !res.IsError {
			t.Errorf("%s accepted truncated JSON: %+v", name, res)
		}
	}
}

func TestWriteReadEditList(t *testing.T) {
	set, ws, _ := toolSet(t)
	if res := call(t, set["write_file"], `{"path":"sub/dir/a.txt","content":"one\ntwo\nthree\n"}`); res.IsError {
		t.Fatal(res.Content)
	}
	abs := filepath.Join(ws, "sub/dir/a.txt")
	if res := call(t, set["read_file"], `{"path":"`+abs+`"}`); res.Content != "one\ntwo\nthree\n" {
		t.Errorf("read %q", res.Content)
	}
	res := call(t, set["read_file"], `{"path":"sub/dir/a.txt","offset":2,"limit":1}`)
	if res.Content != "two\n\n[lines 2-2 of 3 shown; continue with offset 3]\n" {
		t.Errorf("read with offset %q", res.Content)
	}
	if res := call(t, set["edit_file"], `{"path":"sub/dir/a.txt","old_string":"two","new_string":"2"}`); res.IsError {
		t.Fatal(res.Content)
	}
	if b, _ := os.ReadFile(abs); string(b) != "one\n2\nthree\n" {
		t.Errorf("after edit %q", b)
	}
	if err := os.WriteFile(filepath.Join(ws, "dup.txt"), []byte("x x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for input, want := range map[string]string{
		`{"path":"dup.txt","old_string":"x","new_string":"y"}`:     "occurs 2 times",
		`{"path":"dup.txt","old_string":"zzz","new_string":"y"}`:   "not found",
		`{"path":"dup.txt","old_string":"x x","new_string":"x x"}`: "the same",
		`{"path":"missing.txt","old_string":"x","new_string":"y"}`: "no such file",
	} {
		if res := call(t, set["edit_file"], input); !res.IsError || !strings.Contains(res.Content, want) {
			t.Errorf("edit %s = %+v, want error containing %q", input, res, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "dup.txt")); string(b) != "x x" {
		t.Errorf("a failed edit changed the file: %q", b)
	}
	if info, _ := os.Stat(filepath.Join(ws, "dup.txt")); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode())
	}
	if err := os.Symlink("dup.txt", filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	res = call(t, set["list_dir"], `{}`)
	for _, want := range []string{"sub/\n", "dup.txt\t3\n", "link -> dup.txt\n"} {
		if !strings.Contains(res.Content, want) {
			t.Errorf("list %q lacks %q", res.Content, want)
		}
	}
	if res := call(t, set["list_dir"], `{"path":"sub/dir"}`); res.Content != "a.txt\t12\n" {
		t.Errorf("list sub/dir %q", res.Content)
	}
}

func TestReadFileLimits(t *testing.T) {
	set, ws, _ := toolSet(t)
	if err := os.WriteFile(filepath.Join(ws, "bin"), []byte{1, 0, 2}, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := call(t, set["read_file"], `{"path":"bin"}`); !strings.Contains(res.Content, "binary file of 3 bytes") {
		t.Errorf("binary %q", res.Content)
	}
	big := strings.Repeat(strings.Repeat("x", 99)+"\n", 3000) // 300 KB, 3000 lines
	if err := os.WriteFile(filepath.Join(ws, "big"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	res := call(t, set["read_file"], `{"path":"big"}`)
	if len(res.Content) > readLimit+200 || !strings.Contains(res.Content, "of 3000 shown; continue with offset 656") {
		t.Errorf("big read: %d bytes, tail %q", len(res.Content), res.Content[len(res.Content)-80:])
	}
	if err := os.WriteFile(filepath.Join(ws, "long"), []byte(strings.Repeat("y", readLimit+10)), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := call(t, set["read_file"], `{"path":"long"}`); !strings.Contains(res.Content, "longer than") {
		t.Errorf("long line: tail %q", res.Content[len(res.Content)-80:])
	}
	if res := call(t, set["read_file"], `{"path":"big","offset":5000}`); !strings.Contains(res.Content, "has 3000 lines") {
		t.Errorf("past the end: %q", res.Content)
	}
}
