package agent_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/agent/mcptools/mcptest"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// TestSIGTERMStopsCleanly runs the agent as its own process, stops it with
// SIGTERM while a tool runs, and checks that it exits 143 after killing the
// tool's process and its MCP server and emitting agent.finished.
func TestSIGTERMStopsCleanly(t *testing.T) {
	srv := llmtest.NewAnthropic(t,
		llmtest.ToolCall("bash", map[string]any{"command": "sh -c 'echo $$ > sleeper.pid; exec sleep 60'"}),
	)
	cfg := baseConfig(t, agent.ProviderAnthropic, srv)
	mcpPIDFile := filepath.Join(t.TempDir(), "mcp.pid")
	server := calcServer(t, "calc", mcptest.Serve)
	server.Env[mcptest.PIDFileEnv] = mcpPIDFile
	cfg.MCPServers = []agent.MCPServer{server}

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), mainEnv+"="+writeConfig(t, cfg), "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sleeper := waitPID(t, filepath.Join(cfg.Workspace, "sleeper.pid"))
	mcpServer := waitPID(t, mcpPIDFile)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the agent did not exit after SIGTERM; stderr %q", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %d, want 143; stderr %q", code, stderr.String())
	}
	o := outcome{events: decodeEvents(t, stdout.Bytes())}
	mustContain(t, "finished.error", o.finished().Error, "stopped by signal terminated")
	mustContain(t, "stderr", stderr.String(), "stopped by signal terminated")
	for name, pid := range map[string]int{"the tool's process": sleeper, "the MCP server": mcpServer} {
		if alive(pid) {
			t.Errorf("%s (pid %d) is still running", name, pid)
		}
	}
}

// waitPID waits for a pid file to be written and returns the pid.
func waitPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// alive reports whether pid runs (a zombie waiting for its reaper does not
// count). Processes orphaned by the agent are reaped by init eventually.
func alive(pid int) bool {
	for range 50 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// The state follows the parenthesised command name.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 && (s[i+2] == 'Z' || s[i+2] == 'X') {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
