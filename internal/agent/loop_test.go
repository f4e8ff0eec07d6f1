package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

func TestBashWritesTheOutputFile(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t)
		cfg := baseConfig(t, fk.provider, srv)
		srv.Push(
			llmtest.ToolCall("bash", map[string]any{"command": "echo hi > " + cfg.Workspace + "/output.json"}).WithUsage(30, 7),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				if res := r.ToolResults(); len(res) != 1 || res[0].Content != "(no output)\n" {
					t.Errorf("tool results %+v", res)
				}
				return llmtest.Text("done").WithUsage(40, 1)
			}),
		)
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		if got := readFile(t, filepath.Join(cfg.Workspace, "output.json")); got != "hi\n" {
			t.Errorf("output.json = %q: the final answer overwrote the agent's file", got)
		}
		started := all[event.AgentStarted](o)
		if len(started) != 1 || started[0].Model != "test-model" || started[0].Provider != string(fk.provider) {
			t.Fatalf("started %+v", started)
		}
		if strings.Join(started[0].Tools, ",") != "bash,read_file,write_file,edit_file,list_dir" {
			t.Errorf("tools %v", started[0].Tools)
		}
		turns := all[event.AgentTurn](o)
		if len(turns) != 2 || turns[0].InputTokens != 30 || turns[1].OutputTokens != 1 {
			t.Errorf("turns %+v", turns)
		}
		calls := all[event.AgentToolCall](o)
		if len(calls) != 1 || calls[0].Name != "bash" || calls[0].ExitCode == nil || *calls[0].ExitCode != 0 || calls[0].Turn != 1 {
			t.Errorf("tool calls %+v", calls)
		}
		fin := o.finished()
		if fin.Error != "" || fin.FinalText != "done" || fin.Turns != 2 || fin.ToolCalls != 1 ||
			fin.InputTokens != 70 || fin.OutputTokens != 8 || fin.OutputFile != filepath.Join(cfg.Workspace, "output.json") {
			t.Errorf("finished %+v", fin)
		}
	})
}

func TestFinalAnswerIsWrittenToTheOutputFile(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t, llmtest.Text(`{"answer": 42}`))
		cfg := baseConfig(t, fk.provider, srv)
		cfg.OutputFile = filepath.Join(cfg.Workspace, "out", "result.json")
		// A stale file from before the run does not count as the agent's.
		if err := os.MkdirAll(filepath.Dir(cfg.OutputFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg.OutputFile, []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		if got := readFile(t, cfg.OutputFile); got != `{"answer": 42}` {
			t.Errorf("output = %q", got)
		}
		if fin := o.finished(); fin.OutputFile != cfg.OutputFile || fin.FinalText != `{"answer": 42}` {
			t.Errorf("finished %+v", fin)
		}
	})
}

func TestMaxTurns(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t,
			llmtest.ToolCall("bash", map[string]any{"command": "echo 1"}),
			llmtest.ToolCall("bash", map[string]any{"command": "echo 2 > never-run"}),
		)
		cfg := baseConfig(t, fk.provider, srv)
		cfg.MaxTurns = 2
		o := runMain(t, cfg)
		if o.code != agent.ExitFailed {
			t.Fatalf("exit %d, want %d", o.code, agent.ExitFailed)
		}
		mustContain(t, "stderr", o.stderr, "max_turns (2) reached")
		mustContain(t, "finished.error", o.finished().Error, "max_turns (2) reached")
		if len(all[event.AgentToolCall](o)) != 1 || o.finished().Turns != 2 {
			t.Errorf("tool calls %d, turns %d", len(all[event.AgentToolCall](o)), o.finished().Turns)
		}
		for _, name := range []string{"never-run", "output.json"} {
			if _, err := os.Stat(filepath.Join(cfg.Workspace, name)); err == nil {
				t.Errorf("%s exists after max_turns", name)
			}
		}
	})
}

func TestProviderErrorsFailTheRun(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		cases := []struct {
			name string
			turn llmtest.Turn
			want []string
		}{
			{"overloaded", llmtest.Error(529, "overloaded_error", "Overloaded"), []string{"turn 1: ", ": 529: overloaded_error: Overloaded"}},
			{"server error", llmtest.Error(500, "api_error", "Internal server error"), []string{"500 Internal Server Error", "Internal server error"}},
			{"malformed", llmtest.MalformedSSE(), []string{"malformed stream"}},
			{"stream error", llmtest.StreamError("overloaded_error", "Overloaded"), []string{"error event in stream", "Overloaded"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				srv := fk.server(t, c.turn)
				o := runMain(t, baseConfig(t, fk.provider, srv))
				if o.code != agent.ExitFailed {
					t.Fatalf("exit %d", o.code)
				}
				mustContain(t, "stderr", o.stderr, append(c.want, string(fk.provider))...)
				mustContain(t, "finished.error", o.finished().Error, c.want...)
			})
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		cfg := baseConfig(t, fk.provider, fk.server(t))
		cfg.BaseURL = "http://127.0.0.1:1"
		o := runMain(t, cfg)
		if o.code != agent.ExitFailed {
			t.Fatalf("exit %d", o.code)
		}
		mustContain(t, "stderr", o.stderr, "connection refused")
	})
}

func TestAllowlistDeniesAndTheStageGoesOn(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t,
			llmtest.ToolCall("bash", map[string]any{"command": "curl x; $(echo wget) y; x=wget; $x z; echo ran; ls"}),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				res := r.ToolResults()
				if len(res) != 1 {
					t.Fatalf("tool results %+v", res)
				}
				if n := strings.Count(res[0].Content, "[denied by policy:"); n != 3 {
					t.Errorf("%d denial notes in %q", n, res[0].Content)
				}
				mustContain(t, "tool result", res[0].Content, "ran\n", "[denied by policy: curl x:", "[denied by policy: wget y:", "[denied by policy: wget z:")
				return llmtest.Text("could not download")
			}),
		)
		cfg := baseConfig(t, fk.provider, srv)
		cfg.AllowedCommands = []string{"ls", "cat"}
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		denied := all[event.AgentDenied](o)
		var cmds []string
		for _, d := range denied {
			cmds = append(cmds, d.Command)
			mustContain(t, "reason", d.Reason, "not in allowed_commands")
		}
		if strings.Join(cmds, "|") != "curl x|wget y|wget z" {
			t.Errorf("denied %v", cmds)
		}
		calls := all[event.AgentToolCall](o)
		if len(calls) != 1 || !calls[0].Denied || *calls[0].ExitCode != 0 {
			t.Errorf("tool call %+v", calls[0])
		}
		mustContain(t, "system prompt", systemOf(srv), "may only run these programs: ls, cat")
	})
}

// TestEmptyAllowlistDeniesEveryProgram: allowed_commands: [] reaches the
// agent through its JSON config as "nothing allowed" (it arrived as no
// allowlist: cat /etc/passwd, id and wget ran with no denial).
func TestEmptyAllowlistDeniesEveryProgram(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t,
			llmtest.ToolCall("bash", map[string]any{"command": "cat /etc/passwd; id; wget -q x; echo ran"}),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				res := r.ToolResults()
				if len(res) != 1 || strings.Contains(res[0].Content, "root:") || strings.Contains(res[0].Content, "uid=") {
					t.Errorf("tool results %+v", res)
				}
				return llmtest.Text("nothing ran")
			}),
		)
		cfg := baseConfig(t, fk.provider, srv)
		cfg.AllowedCommands = []string{}
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		var cmds []string
		for _, d := range all[event.AgentDenied](o) {
			cmds = append(cmds, d.Command)
		}
		if strings.Join(cmds, "|") != "cat /etc/passwd|id|wget -q x" {
			t.Errorf("denied %v", cmds)
		}
		mustContain(t, "system prompt", systemOf(srv), "bash may run no programs at all")
	})
}

// systemOf returns the system prompt of the first request.
func systemOf(srv *llmtest.Server) string {
	r := srv.Requests()[0]
	if s, ok := r.JSON["system"]; ok { // Anthropic
		if blocks, ok := s.([]any); ok && len(blocks) > 0 {
			b, _ := blocks[0].(map[string]any)
			text, _ := b["text"].(string)
			return text
		}
	}
	msgs := r.Messages()
	if len(msgs) > 0 && msgs[0]["role"] == "system" {
		text, _ := msgs[0]["content"].(string)
		return text
	}
	return ""
}

func TestFileTools(t *testing.T) {
	forEachProvider(t, func(t *testing.T, fk fake) {
		srv := fk.server(t,
			llmtest.Reply("",
				llmtest.Call{Name: "write_file", Input: map[string]any{"path": "notes/a.txt", "content": "alpha\nbeta\n"}},
				llmtest.Call{Name: "edit_file", Input: map[string]any{"path": "notes/a.txt", "old_string": "beta", "new_string": "gamma"}},
				llmtest.Call{Name: "read_file", Input: map[string]any{"path": "notes/a.txt"}},
				llmtest.Call{Name: "list_dir", Input: map[string]any{"path": "notes"}},
				llmtest.Call{Name: "edit_file", Input: map[string]any{"path": "notes/a.txt", "old_string": "nope", "new_string": "x"}},
				llmtest.Call{Name: "no_such_tool", Input: map[string]any{}},
			),
			llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
				res := r.ToolResults()
				if len(res) != 6 {
					t.Fatalf("%d results", len(res))
				}
				want := []string{"wrote 11 bytes", "replaced 1 occurrence", "alpha\ngamma\n", "a.txt\t12\n", "old_string not found", `unknown tool "no_such_tool"`}
				for i, w := range want {
					if !strings.Contains(res[i].Content, w) {
						t.Errorf("result %d %q lacks %q", i, res[i].Content, w)
					}
				}
				return llmtest.Text("edited")
			}),
		)
		cfg := baseConfig(t, fk.provider, srv)
		o := runMain(t, cfg)
		if o.code != 0 {
			t.Fatalf("exit %d, stderr %q", o.code, o.stderr)
		}
		if got := readFile(t, filepath.Join(cfg.Workspace, "notes/a.txt")); got != "alpha\ngamma\n" {
			t.Errorf("a.txt = %q", got)
		}
		calls := all[event.AgentToolCall](o)
		if len(calls) != 6 || calls[4].Error == "" || calls[5].Error == "" || calls[0].Error != "" {
			t.Errorf("tool call events %+v", calls)
		}
	})
}

func TestToolTimeoutDoesNotStopTheRun(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": "sleep 30"}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			mustContain(t, "tool result", r.ToolResults()[0].Content, "timed out")
			return llmtest.Text("gave up waiting")
		}),
	)
	cfg := baseConfig(t, agent.ProviderAnthropic, srv)
	cfg.ToolTimeout = agent.Duration(300 * time.Millisecond)
	start := time.Now()
	o := runMain(t, cfg)
	if o.code != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("exit %d after %v, stderr %q", o.code, time.Since(start), o.stderr)
	}
	if c := all[event.AgentToolCall](o); len(c) != 1 || c[0].Error != "timed out" || c[0].ExitCode != nil {
		t.Errorf("tool call %+v", c)
	}
}
