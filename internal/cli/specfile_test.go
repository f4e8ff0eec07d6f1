package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process; none of its callers boot a VM.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestUnreadableSpecFileIsUsageError: a --file that is missing or a
// directory is a bad argument like any other (exit 2, one clear line), for
// every command that reads a spec.
func TestUnreadableSpecFileIsUsageError(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent.yaml")
	for _, c := range []struct{ file, want string }{
		{missing, "voidbox: reading spec " + missing + ": no such file or directory\n"},
		{dir, "voidbox: reading spec " + dir + ": is a directory\n"},
		{"", "voidbox: --file is required\n"},
	} {
		for _, sub := range []string{"run", "validate", "inspect"} {
			code, stdout, stderr := runCLI(t, sub, "--file", c.file)
			if code != ExitUsage || stderr != c.want || stdout != "" {
				t.Errorf("%s --file %q: exit %d, stderr %q, stdout %q; want exit 2, stderr %q", sub, c.file, code, stderr, stdout, c.want)
			}
		}
	}
}

// TestValidateCountsInWords: "1 stage", not "1 stages".
func TestValidateCountsInWords(t *testing.T) {
	dir := t.TempDir()
	for n, want := range map[int]string{1: "(1 stage)", 2: "(2 stages)"} {
		boxes, stages := "", ""
		for i := range n {
			name := string(rune('a' + i))
			boxes += "    - {name: " + name + ", exec: [echo, hi]}\n"
			stages += "    - box: " + name + "\n"
		}
		file := filepath.Join(dir, "p.yaml")
		spec := "api_version: v1\nkind: pipeline\nname: p\npipeline:\n  boxes:\n" + boxes + "  stages:\n" + stages
		if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "validate", "--file", file)
		if code != ExitOK || stdout != file+`: valid pipeline "p" `+want+"\n" {
			t.Errorf("%d stages: exit %d, stdout %q, stderr %q; want %s", n, code, stdout, stderr, want)
		}
	}
}

// TestSeedFieldsWithAnotherMeaning: the seed implementation's mode: mock and
// credential_proxy: true validate, each with a one-line notice saying what
// voidbox does instead; credential_proxy: false is refused with why.
func TestSeedFieldsWithAnotherMeaning(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "seed.yaml")
	os.WriteFile(file, []byte("api_version: v1\nkind: workflow\nname: w\nsandbox:\n  mode: mock\nllm:\n  credential_proxy: true\n"+
		"workflow:\n  steps:\n    - name: hello\n      run: {program: echo, args: [HELLO]}\n"), 0o644)
	code, stdout, stderr := runCLI(t, "validate", "--file", file)
	if code != ExitOK || !strings.Contains(stdout, "valid workflow") ||
		!strings.Contains(stderr, "voidbox: note: "+file+":5:9: sandbox.mode: mock: voidbox runs a real micro-VM instead") ||
		!strings.Contains(stderr, file+":7:21: llm.credential_proxy: true is what voidbox always does") || strings.Count(stderr, "\n") != 2 {
		t.Errorf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	os.WriteFile(file, []byte("api_version: v1\nkind: sandbox\nname: s\nllm:\n  credential_proxy: false\n"), 0o644)
	code, _, stderr = runCLI(t, "validate", "--file", file)
	if code != ExitUsage || !strings.Contains(stderr, "would put the provider key inside the guest") {
		t.Errorf("credential_proxy false: exit %d stderr %q", code, stderr)
	}
}
