package voidbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestEmptyAllowlistVM: an allowlist of nothing allows nothing, in a command
// box and in an agent box's tools (both ran everything: the empty list was
// dropped on its way to the guest and read as "no allowlist" by the agent).
func TestEmptyAllowlistVM(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": "cat /etc/passwd; id; wget -q http://127.0.0.1:1/; echo builtin-ran"}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) != 1 {
				return llmtest.Text("no tool result")
			}
			return llmtest.Text("tool said: " + res[0].Content)
		}),
	)
	t.Setenv("VOIDBOX_TEST_KEY", "sk-test")
	rec := &recorder{}
	rep, err := voidbox.NewPipeline("empty-allowlist").FanOut(
		voidbox.NewBox("agent").Prompt("try things").AllowCommands().Memory(256).
			LLM(voidbox.LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_TEST_KEY"}),
		voidbox.NewBox("command").Exec("echo", "ran").AllowCommands().Memory(256),
	).MaxParallel(2).Run(context.Background(), voidbox.RunOptions{Host: hostConfig(t), Events: rec})
	if err == nil || rep == nil {
		t.Fatalf("want the command box to fail, got %v", err)
	}
	st := map[string]voidbox.StageReport{}
	for _, s := range rep.Stages {
		st[s.Name] = s
	}
	if s := st["command"]; s.Status != voidbox.StatusFailed || s.ExitCode == nil || *s.ExitCode != 126 {
		t.Errorf("command box: %s exit %v %q", s.Status, s.ExitCode, s.Error)
	}
	if n := rec.count("agent.denied"); n != 3 {
		t.Errorf("%d agent.denied events, want 3 (cat, id, wget)", n)
	}
	s := st["agent"]
	d, _ := s.Detail.(*voidbox.StageDetail)
	if s.Status != voidbox.StatusSucceeded || d == nil {
		t.Fatalf("agent box: %s %q", s.Status, s.Error)
	}
	final := d.Agent.FinalText
	if strings.Contains(final, "root:") || strings.Contains(final, "uid=") || !strings.Contains(final, "builtin-ran") ||
		strings.Count(final, "[denied by policy:") != 3 {
		t.Errorf("the tool's output, as the model saw it: %q", final)
	}
}

// TestDiskBudgetVM: the filesystems the sandbox user writes share one budget
// sized from the config, so filling them gets ENOSPC and never takes the
// guest kernel down (filling /tmp and then /workspace panicked it: "System
// is deadlocked on memory"); an out-of-memory kill says so.
func TestDiskBudgetVM(t *testing.T) {
	sb := vmBoot(t, vmConfig(t, "disk"))
	ctx := context.Background()
	sh := func(t *testing.T, script string) *voidbox.Result {
		t.Helper()
		r, err := sb.Exec(ctx, voidbox.Cmd{Args: []string{"sh", "-c", script}})
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
		return r
	}
	alive := func(t *testing.T) {
		t.Helper()
		if r := sh(t, "echo alive"); string(r.Stdout) != "alive\n" {
			t.Fatalf("the VM no longer serves: %+v", r)
		}
	}
	t.Run("one filesystem for every writable place", func(t *testing.T) {
		r := sh(t, "for d in /workspace /tmp /home/sandbox /dev/shm; do stat -f -c '%i %b' $d; done; "+
			"touch /x 2>&1; cat /proc/sys/kernel/shm_rmid_forced")
		lines := strings.Split(strings.TrimSpace(string(r.Stdout)), "\n")
		if len(lines) != 6 || lines[0] != lines[1] || lines[0] != lines[2] || lines[0] != lines[3] ||
			!strings.Contains(lines[4], "Permission denied") || lines[5] != "1" {
			t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
		}
	})
	t.Run("filling /tmp and /workspace gets ENOSPC", func(t *testing.T) {
		r := sh(t, "dd if=/dev/zero of=/tmp/f bs=1M count=1000; dd if=/dev/zero of=/workspace/f bs=1M count=1000")
		if r.ExitCode == 0 || strings.Count(string(r.Stderr), "No space left on device") != 2 {
			t.Fatalf("exit %d stderr %q", r.ExitCode, r.Stderr)
		}
		alive(t)
	})
	t.Run("memory filled by processes while the disk is full", func(t *testing.T) {
		r := sh(t, `dd if=/dev/zero of=/home/sandbox/f bs=1M count=1000 2>/dev/null; dd if=/dev/zero of=/dev/shm/f bs=1M count=1000 2>/dev/null
			for i in 1 2 3; do awk 'BEGIN { s = "x"; while (1) s = s s }' & done; wait
			awk 'BEGIN { s = "x"; while (1) s = s s }'`)
		if r.ExitCode != 137 || !r.OOMKilled || r.Reason() != "killed: out of memory" {
			t.Fatalf("exit %d oom %v reason %q stderr %q", r.ExitCode, r.OOMKilled, r.Reason(), r.Stderr)
		}
		alive(t)
	})
	// Cgroups are reused once empty: this one likely runs in the cgroup of
	// the OOM kill above, whose count must not carry over.
	t.Run("a kill that is not the OOM killer's is not called one", func(t *testing.T) {
		if r := sh(t, "kill -9 $$"); r.ExitCode != 137 || r.OOMKilled || r.Reason() != "" {
			t.Fatalf("exit %d oom %v reason %q", r.ExitCode, r.OOMKilled, r.Reason())
		}
	})
	t.Run("freed space is usable again", func(t *testing.T) {
		if r := sh(t, "rm -f /tmp/f /workspace/f /home/sandbox/f /dev/shm/f && echo x > /workspace/ok && cat /workspace/ok"); string(r.Stdout) != "x\n" {
			t.Fatalf("exit %d stdout %q stderr %q", r.ExitCode, r.Stdout, r.Stderr)
		}
	})
}

// TestDiskBudgetSizeVM: DiskMiB sets the budget; one that does not fit the
// guest's memory is refused at boot, saying the largest that fits.
func TestDiskBudgetSizeVM(t *testing.T) {
	cfg := vmConfig(t, "disk64")
	cfg.Policy.MemoryMiB, cfg.Policy.DiskMiB = 256, 64
	sb := vmBoot(t, cfg)
	r, err := sb.Exec(context.Background(), voidbox.Cmd{Args: []string{"sh", "-c",
		"stat -f -c '%b %S' /tmp; dd if=/dev/zero of=/workspace/f bs=1M count=100 2>&1 | tail -1; ls -l /workspace/f"}})
	if err != nil {
		t.Fatal(err)
	}
	out := string(r.Stdout)
	if !strings.HasPrefix(out, "16384 4096\n") || !strings.Contains(out, " 67108864 ") {
		t.Fatalf("a 64 MiB budget: stdout %q stderr %q", out, r.Stderr)
	}

	cfg = vmConfig(t, "disk-too-big")
	cfg.Policy.MemoryMiB, cfg.Policy.DiskMiB = 128, 64
	if strings.HasSuffix(sb.Info().Kernel, "-voidbox-slim") {
		// The slim kernel leaves about 100 MiB of a 128 MiB guest free, so
		// the largest budget the policy allows (half the memory) fits and the
		// refusal cannot be reached: the budget must be what was asked.
		small := vmBoot(t, cfg)
		r, err := small.Exec(context.Background(), voidbox.Cmd{Args: []string{"stat", "-f", "-c", "%b %S", "/tmp"}})
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Stdout) != "16384 4096\n" {
			t.Fatalf("a 64 MiB budget in 128 MiB under the slim kernel: stdout %q stderr %q", r.Stdout, r.Stderr)
		}
		return
	}
	_, err = voidbox.New(context.Background(), cfg)
	if !errors.Is(err, voidbox.ErrBoot) || !strings.Contains(err.Error(), "disk budget of 64 MiB does not fit") ||
		!strings.Contains(err.Error(), "at most") {
		t.Fatalf("want the boot refused for its disk budget, got %v", err)
	}
}
