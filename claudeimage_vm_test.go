package voidbox_test

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/oci"
	"github.com/voidbox/voidbox/internal/oci/ocitest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestClaudeCodeOnImageVM runs the real Claude Code CLI on OCI image roots
// without shadowing the image's files: on an image with glibc (the host's
// own, with its bash) that glibc loads claude-code and the Bash tool runs
// the image's bash; on a busybox image without glibc the flavour's loader
// and bash are linked in; an image with glibc libraries but no loader is
// refused before the model is asked anything.
func TestClaudeCodeOnImageVM(t *testing.T) {
	vmtest.ClaudeImage(t)
	r := vmtest.Setup(t)
	reg := ocitest.Registry(t)
	push := func(name string, files map[string]ocitest.File) string { return pushRoot(t, reg, name, files) }

	glibc := ocitest.BusyboxRoot(t, r.BusyboxBinary, "glibcimg")
	glibc["/lib"] = ocitest.File{Kind: tar.TypeDir}
	glibc["/lib/x86_64-linux-gnu"] = ocitest.File{Kind: tar.TypeDir}
	glibc["/lib64"] = ocitest.File{Kind: tar.TypeDir}
	glibc["/lib64/ld-linux-x86-64.so.2"] = ocitest.File{Kind: tar.TypeSymlink, Link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}
	for _, lib := range []string{"ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libtinfo.so.6"} {
		glibc["/lib/x86_64-linux-gnu/"+lib] = ocitest.File{Mode: 0o755, Data: hostFile(t, "/lib/x86_64-linux-gnu/"+lib)}
	}
	glibc["/bin/bash"] = ocitest.File{Mode: 0o755, Data: hostFile(t, "/bin/bash")}

	noLoader := ocitest.BusyboxRoot(t, r.BusyboxBinary, "halfglibc")
	noLoader["/lib"] = ocitest.File{Kind: tar.TypeDir}
	noLoader["/lib/x86_64-linux-gnu"] = ocitest.File{Kind: tar.TypeDir}
	noLoader["/lib/x86_64-linux-gnu/libm.so.6"] = ocitest.File{Data: "not a library"}

	report := `echo "$SHELL $(readlink -f /lib64/ld-linux-x86-64.so.2) $(. /etc/os-release; echo $ID)" > /workspace/output.json`
	for _, c := range []struct {
		name, image, want, refused string
	}{
		{name: "image glibc", image: push("glibc", glibc), want: "/bin/bash /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 glibcimg"},
		{name: "flavour glibc", image: push("busybox", ocitest.BusyboxRoot(t, r.BusyboxBinary, "voidtest")),
			want: "/opt/voidbox/claude-code/bin/bash /opt/voidbox/claude-code/lib/ld-linux-x86-64.so.2 voidtest"},
		{name: "libraries without a loader", image: push("halfglibc", noLoader),
			refused: "cannot run on image " + reg + "/test/halfglibc:1: it has /lib/x86_64-linux-gnu/libm.so.6 but no glibc loader at /lib64/ld-linux-x86-64.so.2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := llmtest.NewAnthropic(t,
				llmtest.ToolCall("Bash", map[string]any{"command": report, "description": "report the runtime"}),
				llmtest.Text("done"),
			)
			t.Setenv("VOIDBOX_TEST_KEY", "sk-claude-test")
			box := voidbox.NewBox("claude").Prompt("report").Runtime(voidbox.RuntimeClaudeCode).OCIImage(c.image).
				LLM(voidbox.LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_KEY", Model: "claude-sonnet-4-5"})
			rep, err := voidbox.NewPipeline("claude-image").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) || len(srv.Requests()) != 0 {
					t.Fatalf("want a refusal naming %q before any model request; got %v, %d requests", c.refused, err, len(srv.Requests()))
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (report %+v)", err, rep)
			}
			if got := strings.TrimSpace(string(rep.Output)); got != c.want {
				t.Fatalf("output %q, want %q", got, c.want)
			}
			if d := rep.Stages[0].Detail.(*voidbox.StageDetail).Agent; d.ToolCallCount != 1 || d.ToolCalls[0].Name != "Bash" {
				t.Fatalf("agent detail %+v", d)
			}
		})
	}
}

// pushRoot pushes a one-layer root image of files to the test's registry
// reg and pulls it into the default cache; it is removed when the test ends.
func pushRoot(t *testing.T, reg, name string, files map[string]ocitest.File) string {
	t.Helper()
	store, err := oci.Open("")
	if err != nil {
		t.Fatal(err)
	}
	ref := reg + "/test/" + name + ":1"
	ocitest.Push(t, ref, ocitest.Image(t, ocitest.Config{Env: []string{"PATH=/usr/bin:/bin"}}, ocitest.Layer(t, files)))
	if _, err := voidbox.PullImage(context.Background(), ref, voidbox.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := store.Remove(context.Background(), ref); err != nil {
			t.Errorf("removing %s: %v", ref, err)
		}
	})
	return ref
}

// TestCodexOnImageVM: the Codex CLI, a static binary, runs on a busybox
// image root; the command it runs sees the image (its os-release, its
// PATH) and writes the stage's output.
func TestCodexOnImageVM(t *testing.T) {
	vmtest.CodexImage(t)
	r := vmtest.Setup(t)
	image := pushRoot(t, ocitest.Registry(t), "codexroot", ocitest.BusyboxRoot(t, r.BusyboxBinary, "codeximg"))
	t.Setenv("VOIDBOX_TEST_OPENAI_KEY", "sk-proj-codex-image")
	srv := llmtest.NewResponses(t,
		llmtest.Reply("Writing the file.", llmtest.Call{Name: "exec_command", Input: map[string]any{
			"cmd": `. /etc/os-release; echo "codex-on-$ID $PATH" > /workspace/output.json`}}),
		llmtest.Text("done"),
	)
	box := voidbox.NewBox("codex").Prompt("write the output file").Runtime(voidbox.RuntimeCodex).OCIImage(image).
		LLM(voidbox.LLM{Provider: "openai", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_OPENAI_KEY"})
	rep, err := voidbox.NewPipeline("codex-image").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	// Codex puts a helper directory of its own in front of the PATH it got.
	if got := strings.TrimSpace(string(rep.Output)); !strings.HasPrefix(got, "codex-on-codeximg ") || !strings.HasSuffix(got, ":/usr/bin:/bin") {
		t.Fatalf("output %q, want the image's os-release ID and its PATH", got)
	}
}

// hostFile is the contents of a host file, through its symlinks.
func hostFile(t *testing.T, p string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
