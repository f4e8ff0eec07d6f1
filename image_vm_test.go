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

// testImages pushes a busybox root image and a skill image to a registry of
// the test's own and pulls them with PullImage into the default cache
// (their references name the registry's random port, so they are this
// test's alone); they are removed when the test ends.
func testImages(t *testing.T) (root, skill string) {
	t.Helper()
	r := vmtest.Setup(t)
	reg := ocitest.Registry(t)
	files := ocitest.BusyboxRoot(t, r.BusyboxBinary, "voidtest")
	root, skill = reg+"/test/root:1", reg+"/test/hello:1"
	ocitest.Push(t, root, ocitest.Image(t, ocitest.Config{Env: []string{"PATH=/bin", "FROM_IMAGE=1"}}, ocitest.Layer(t, files)))
	ocitest.Push(t, skill, ocitest.Image(t, ocitest.Config{}, ocitest.Layer(t, map[string]ocitest.File{
		"/bin":       {Kind: tar.TypeDir},
		"/bin/hello": {Mode: 0o755, Data: "#!/bin/sh\necho hello from the skill\n"},
		"/SKILL.md":  {Data: "---\nname: greeting\ndescription: Greets with the hello tool.\n---\nRun hello.\n"},
	})))
	store, err := oci.Open("")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{root, skill} {
		if _, err := voidbox.PullImage(context.Background(), ref, voidbox.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := store.Remove(context.Background(), ref); err != nil {
				t.Errorf("removing %s: %v", ref, err)
			}
		})
	}
	return root, skill
}

// TestImagePipelineVM: a pipeline whose first box boots from an OCI image
// with an OCI skill and a read-only host mount, and leaves an output
// directory that the second box (on voidbox's initramfs) reads as an
// input; the output stays on the host, named in the report.
func TestImagePipelineVM(t *testing.T) {
	root, skill := testImages(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "in.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	make := voidbox.NewBox("make").OCIImage(root).Memory(256).
		Mount(data, "/data", voidbox.ReadOnly).
		Skill(voidbox.SkillOCI(skill, "")).
		Output("result", "/workspace/result").
		Exec("sh", "-c", "{ hello; cat /data/in.txt; echo $FROM_IMAGE; head -1 /etc/os-release; } > /workspace/result/r.txt")
	read := voidbox.NewBox("read").Memory(256).Input("result", "/workspace/in").
		Exec("sh", "-c", "cat /workspace/in/r.txt; touch /workspace/in/x 2>/dev/null || echo read-only")
	rep, err := voidbox.NewPipeline("images").Pipe(make).Pipe(read).Run(context.Background(),
		voidbox.RunOptions{Host: hostConfig(t), OutputsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	want := "hello from the skill\nfrom the host\n1\nID=voidtest\nread-only\n"
	if string(rep.Output) != want {
		t.Errorf("output %q, want %q", rep.Output, want)
	}
	d := rep.Stages[0].Detail.(*voidbox.StageDetail)
	if !strings.HasPrefix(d.Image, "sha256:") {
		t.Errorf("image digest %q", d.Image)
	}
	b, err := os.ReadFile(filepath.Join(d.Outputs["result"], "r.txt"))
	if err != nil || !strings.HasPrefix(string(b), "hello from the skill") {
		t.Errorf("output directory on the host: %q, %v", b, err)
	}
}

// TestImageAgentVM: the built-in agent runs on an OCI image with an OCI
// skill under an allowlist: the skill's SKILL.md is in the agent's skills
// index at its path in the image, and its tool (on PATH, in the image's
// read-only bin/) is allowed; a tool the allowlist does not name is not.
func TestImageAgentVM(t *testing.T) {
	root, skill := testImages(t)
	var system string
	var results []string
	srv := llmtest.NewAnthropic(t,
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			system, _ = r.JSON["system"].(string)
			if system == "" { // a list of text blocks
				if blocks, ok := r.JSON["system"].([]any); ok {
					for _, b := range blocks {
						if m, ok := b.(map[string]any); ok {
							s, _ := m["text"].(string)
							system += s
						}
					}
				}
			}
			return llmtest.ToolCall("bash", map[string]any{"command": "hello > /workspace/output.json; head -1 /etc/os-release >> /workspace/output.json"})
		}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			for _, res := range r.ToolResults() {
				results = append(results, res.Content)
			}
			return llmtest.ToolCall("bash", map[string]any{"command": "ls /"})
		}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			for _, res := range r.ToolResults() {
				results = append(results, res.Content)
			}
			return llmtest.Text("done")
		}),
	)
	t.Setenv("VOIDBOX_TEST_KEY", "sk-test-key")
	// hello is a #!/bin/sh script: the kernel's exec check runs its
	// interpreter through the allowlist too, so sh is named (and ls, which
	// sh could start, stays refused).
	box := voidbox.NewBox("agent").OCIImage(root).AllowCommands("hello", "head", "sh").Prompt("greet").
		Skill(voidbox.SkillOCI(skill, "/skills/hello")).
		LLM(voidbox.LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_KEY", Model: "claude-sonnet-4-5"})
	rep, err := voidbox.NewPipeline("agent-image").Pipe(box).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t)})
	if err != nil {
		t.Fatalf("%v (report %+v)", err, rep)
	}
	if string(rep.Output) != "hello from the skill\nID=voidtest\n" {
		t.Errorf("output %q (tool results %q)", rep.Output, results)
	}
	if !strings.Contains(system, "greeting: Greets with the hello tool. (/skills/hello/SKILL.md)") {
		t.Errorf("the skills index lacks the OCI skill:\n%s", system)
	}
	d := rep.Stages[0].Detail.(*voidbox.StageDetail).Agent
	if d.Denied != 1 || len(results) != 2 || !strings.Contains(results[1], "not in allowed_commands") {
		t.Errorf("denied %d, tool results %q", d.Denied, results)
	}
}
