package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent"
)

func TestLoadConfigDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(`{"provider":"openai","base_url":"http://127.0.0.1:4000","model":"m","prompt":"p","tool_timeout":"90s"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Workspace != "/workspace" || cfg.InputFile != "/workspace/input.json" || cfg.OutputFile != "/workspace/output.json" ||
		cfg.MaxTurns != 20 || cfg.MaxTokens != agent.DefaultMaxTokens || time.Duration(cfg.ToolTimeout) != 90*time.Second {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestConfigValidationListsEveryProblem(t *testing.T) {
	cfg := agent.Config{
		Provider: "gemini", BaseURL: "127.0.0.1:4000", MaxTurns: -1, Workspace: "rel",
		AllowedCommands: []string{"/bin/ls"},
		MCPServers: []agent.MCPServer{
			{Name: "a b", Command: "x", URL: "http://y"},
			{Name: "dup", Command: "x"}, {Name: "dup", URL: "ftp://x"},
		},
	}.WithDefaults()
	err := cfg.Validate()
	if !errors.Is(err, agent.ErrInvalidConfig) {
		t.Fatalf("error %v", err)
	}
	for _, want := range []string{
		"provider:", "base_url:", "model: required", "prompt: required", "max_turns:", "workspace:",
		"allowed_commands[0]:", "mcp_servers[0].name:", "mcp_servers[0]: set exactly one", `mcp_servers[2].name: "dup" is used twice`, "mcp_servers[2].url:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestMainRejectsBadInvocations(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	if err := os.WriteFile(unknown, []byte(`{"provider":"openai","base_url":"http://x","model":"m","prompt":"p","api_key":"sk-secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no config":     {nil, "usage"},
		"missing file":  {[]string{"--config", filepath.Join(dir, "nope.json")}, "no such file"},
		"unknown field": {[]string{"--config", unknown}, `unknown field "api_key"`},
		"extra arg":     {[]string{"--config", unknown, "more"}, "usage"},
		"bad flag":      {[]string{"--verbose"}, "flag provided but not defined"},
	} {
		var stdout, stderr bytes.Buffer
		code := agent.Main(context.Background(), c.args, &stdout, &stderr)
		if code != agent.ExitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), "sk-secret") {
			t.Errorf("%s: a key from the config was echoed", name)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var v struct{ D agent.Duration }
	for in, want := range map[string]time.Duration{`{"D":"1m30s"}`: 90 * time.Second, `{"D":5}`: 5 * time.Second, `{"D":0.5}`: 500 * time.Millisecond} {
		if err := json.Unmarshal([]byte(in), &v); err != nil || time.Duration(v.D) != want {
			t.Errorf("%s: %v, %v", in, time.Duration(v.D), err)
		}
	}
	if err := json.Unmarshal([]byte(`{"D":"soon"}`), &v); err == nil {
		t.Error("bad duration accepted")
	}
	b, _ := json.Marshal(agent.Config{ToolTimeout: agent.Duration(2 * time.Minute)})
	if !strings.Contains(string(b), `"tool_timeout":"2m0s"`) {
		t.Errorf("marshalled %s", b)
	}
}
