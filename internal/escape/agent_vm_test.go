package escape_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/policy"
	"github.com/voidbox/voidbox/internal/sandbox"
	"github.com/voidbox/voidbox/internal/stage"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// TestGuestAgentKilledVM: the built-in agent (cmd/voidbox-agent, the
// sandbox user's process that drives the model) killed with SIGKILL in the
// middle of its work — once by root in the guest while it waits for the
// model, once by the sandbox user through one of its own tool calls —
// fails its stage with the reason, without a retry that the box did not
// ask for, and nothing is left on the host.
func TestGuestAgentKilledVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)

	rec := &bootRecorder{}
	var mu sync.Mutex
	var rootKill error // the root kill's outcome, set by the model's handler
	killed := false    // guarded by mu
	dispatch := func(req *llmtest.Request) llmtest.Turn {
		switch text := req.LastUserText(); {
		case strings.Contains(text, "by root"):
			// The agent is waiting for this very reply: root ends it first.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := killAgent(ctx, rec.of("by-root"))
			mu.Lock()
			rootKill, killed = err, true
			mu.Unlock()
			return llmtest.Text("too late")
		case strings.Contains(text, "by itself") && len(req.ToolResults()) == 0:
			return llmtest.ToolCall("bash", map[string]any{"command": "busybox kill -9 $(pidof voidbox-agent); sleep 30; echo survived"})
		default:
			var results []string
			for _, r := range req.ToolResults() {
				results = append(results, r.Content)
			}
			return llmtest.Text("the agent lived on: " + text + strings.Join(results, " | "))
		}
	}
	srv := llmtest.NewAnthropic(t, llmtest.Func(dispatch), llmtest.Func(dispatch), llmtest.Func(dispatch), llmtest.Func(dispatch))
	t.Setenv("VOIDBOX_FAULT_KEY", "sk-fault")
	before := snapshot(root) // the fake model's listener is the test's own
	llm := stage.LLM{Provider: "claude", BaseURL: srv.URL, APIKeyEnv: "VOIDBOX_FAULT_KEY", Model: "claude-sonnet-4-5"}
	byRoot := &stage.Box{Name: "by-root", Agent: &stage.Agent{Prompt: "you are killed by root", LLM: llm},
		Policy: policy.Sandbox{MemoryMiB: 512}}
	byItself := &stage.Box{Name: "by-itself", Agent: &stage.Agent{Prompt: "you are killed by itself", LLM: llm},
		Policy: policy.Sandbox{MemoryMiB: 512}}

	var failed sync.Map // stage name → event.StageFailed
	sink := event.SinkFunc(func(e event.Event) {
		if d, ok := e.Data.(event.StageFailed); ok {
			failed.Store(e.Stage, d)
		}
	})
	b := pipeline.NewPipeline("agent-killed")
	b.FanOut(byRoot.Node(), byItself.Node())
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	host := stage.Host{Sandbox: vmtest.Host(t), Kernel: r.Kernel, Initramfs: r.Initramfs, AgentInitramfs: r.AgentInitramfs}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := stage.Run(ctx, g, map[string]stage.Staged{byRoot.Name: {Box: byRoot}, byItself.Name: {Box: byItself}},
		host, stage.Options{Boot: stage.BootFunc(rec.boot), Events: sink, OutputsDir: t.TempDir()})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("the run: %v (ctx %v); both agents were killed", err, ctx.Err())
	}
	mu.Lock()
	if !killed || rootKill != nil {
		t.Errorf("root's kill of the agent: ran %v, %v", killed, rootKill)
	}
	mu.Unlock()
	for _, name := range []string{byRoot.Name, byItself.Name} {
		st := rep.Stage(name)
		if st == nil || st.Status != pipeline.StatusFailed || st.Attempts != 1 {
			t.Errorf("stage %s: %+v, want failed after one attempt", name, st)
			continue
		}
		t.Logf("stage %s: %s", name, st.Error)
		if !strings.Contains(st.Error, "agent") || !strings.Contains(st.Error, "killed") {
			t.Errorf("stage %s failed with %q: it does not say the agent was killed", name, st.Error)
		}
		if d, ok := failed.Load(name); !ok || d.(event.StageFailed).Error != st.Error {
			t.Errorf("stage %s: stage.failed event %+v, report %q", name, d, st.Error)
		}
		if strings.Contains(st.Error, "lived on") || strings.Contains(st.Error, "survived") {
			t.Errorf("stage %s: the agent went on after the kill: %s", name, st.Error)
		}
	}
	assertNoLeak(t, root, before)
}

// killAgent kills the guest's voidbox-agent as root and checks it is gone.
func killAgent(ctx context.Context, sb *sandbox.Sandbox) error {
	if sb == nil {
		return fmt.Errorf("no VM recorded for the agent")
	}
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "kill -9 $(pidof voidbox-agent)"},
		As: sandbox.AsRoot, Timeout: 30 * time.Second})
	if errors.Is(err, sandbox.ErrVMGone) || errors.Is(err, sandbox.ErrClosed) {
		// The agent's death ended the stage, whose VM closed before this
		// exec could report: the stage's error says what happened.
		return nil
	}
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("killing voidbox-agent: exit %d: %s", res.ExitCode, res.Stderr)
	}
	return nil
}

// TestGuestInitDiesVM: the guest's PID 1 ignores even root's SIGKILL (the
// kernel never delivers it to a namespace's init), and its death — here a
// kernel crash forced through sysrq — takes the VM down: the exec fails
// with ErrVMGone and the reason, at once rather than at a timeout, and
// nothing is left.
func TestGuestInitDiesVM(t *testing.T) {
	root := privateRuntime(t)
	r := vmtest.Setup(t)
	before := snapshot(root)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Boot(ctx, vmtest.Host(t).Config("initdies", policy.Sandbox{MemoryMiB: 256}, r.Kernel, r.Initramfs))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	res, err := sb.Exec(ctx, sandbox.Cmd{Args: []string{"kill", "-9", "1"}, As: sandbox.AsRoot})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("root's kill -9 1: %v %+v", err, res)
	}
	if err := sb.Ping(ctx); err != nil {
		t.Fatalf("PID 1 did not survive root's SIGKILL: %v", err)
	}
	res, err = sb.Exec(ctx, sandbox.Cmd{Args: []string{"sh", "-c", "echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger; sleep 60"},
		As: sandbox.AsRoot, Timeout: 2 * time.Minute})
	if !errors.Is(err, sandbox.ErrVMGone) {
		t.Fatalf("after the guest kernel crashed: %v %+v, want ErrVMGone", err, res)
	}
	t.Logf("guest crash: %v", err)
	if err := sb.Close(); err != nil && !errors.Is(err, sandbox.ErrVMGone) {
		t.Logf("close after the crash: %v", err)
	}
	assertNoLeak(t, root, before)
}
