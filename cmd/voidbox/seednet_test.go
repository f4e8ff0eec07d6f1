package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// hnAddr stands in for the Hacker News API. `network: true` is the public
// internet only, so a test server on loopback is exactly what it must
// refuse; this test makes its own network namespace, with nothing in it
// but loopback carrying a public address, and runs the servers and voidbox
// there: the box's traffic goes through the real public path and cannot
// leave the namespace.
const hnAddr = "1.2.3.4"

// TestSeedNetworkTrueE2E: the seed's hackernews_agent.yaml shape (network:
// true, a file: skill, an ollama-style provider) validates and runs an
// agent stage whose tool call fetches from the "API" with busybox wget.
func TestSeedNetworkTrueE2E(t *testing.T) {
	vmtest.Setup(t) // prepares the image before the namespace (downloads need the host's network)
	enterNetNS(t)

	ln, err := net.Listen("tcp", hnAddr+":80")
	if err != nil {
		t.Fatal(err)
	}
	api := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v0/topstories.json":
			fmt.Fprint(w, "[4101,4102]")
		case "/v0/item/4101.json":
			fmt.Fprint(w, `{"id":4101,"title":"Agents in micro-VMs","score":321}`)
		default:
			http.NotFound(w, r)
		}
	})}
	go api.Serve(ln) // ends when the cleanup closes the server
	t.Cleanup(func() { api.Close() })

	fetch := "wget -qO- http://" + hnAddr + "/v0/topstories.json && wget -qO- http://" + hnAddr + "/v0/item/4101.json"
	model := llmtest.NewOpenAI(t,
		llmtest.ToolCall("bash", map[string]any{"command": fetch}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) == 0 {
				return llmtest.Text("no tool result")
			}
			return llmtest.Text("fetched: " + res[0].Content)
		}))

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "skills"), 0o755)
	os.WriteFile(filepath.Join(dir, "skills", "hackernews-api.md"), []byte("---\nname: hackernews-api\n"+
		"description: Read Hacker News stories through its JSON API with wget.\n---\n# Hacker News API\n\n"+
		"GET http://"+hnAddr+"/v0/topstories.json lists story ids; /v0/item/ID.json is one story. Use wget -qO-.\n"), 0o644)
	spec := filepath.Join(dir, "hackernews_agent.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(`api_version: v1
kind: agent
name: hn_researcher
sandbox:
  mode: auto
  memory_mb: 1024
  network: true
llm:
  provider: ollama
  model: qwen3-coder
  base_url: %q
  api_key_env: VOIDBOX_E2E_KEY # the fake speaks OpenAI's API, which wants a key
agent:
  prompt: "Analyze top HN stories for AI engineering trends"
  skills:
    - "file:skills/hackernews-api.md"
  timeout_secs: 600
`, model.URL)), 0o644)

	t.Setenv("VOIDBOX_E2E_KEY", "sk-e2e")
	if r := voidbox(t, "", "validate", "--file", spec); r.code != 0 {
		t.Fatalf("validate: exit %d: %s", r.code, r.stderr)
	}
	events := filepath.Join(dir, "events.jsonl")
	r := voidbox(t, "", "run", "--file", spec, "--output", "json", "--events", events, "--progress", "none")
	var rep struct {
		Status string `json:"status"`
		Output string `json:"output"`
		Stages []struct {
			Detail struct {
				Network *struct {
					FlowsAllowed int64 `json:"flows_allowed"`
					BytesIn      int64 `json:"bytes_in"`
				} `json:"network"`
			} `json:"detail"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("exit %d: %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
	}
	if !strings.Contains(rep.Output, "fetched: [4101,4102]") || !strings.Contains(rep.Output, "Agents in micro-VMs") {
		t.Errorf("output %q", rep.Output)
	}
	if n := rep.Stages[0].Detail.Network; n == nil || n.FlowsAllowed != 2 || n.BytesIn == 0 {
		t.Errorf("report network %+v", n)
	}
	allowed := 0
	for _, e := range readNetEvents(t, events) {
		if e.Type == "net.allowed" && e.Fields.Proto == "tcp" && e.Fields.IP == hnAddr && e.Fields.Port == 80 {
			allowed++
			if e.Fields.Box != "hn_researcher" || !strings.Contains(e.Fields.Reason, "is public") {
				t.Errorf("event %+v", e)
			}
		}
	}
	if allowed != 2 {
		t.Errorf("%d allowed flows to the API in the events, want 2", allowed)
	}
}

// enterNetNS moves the test's goroutine, locked to its thread for the rest
// of the test (the thread dies with it), into a new network namespace with
// loopback up and hnAddr on it. Sockets it opens, and processes it starts,
// live there; nothing in it routes anywhere else.
func enterNetNS(t *testing.T) {
	t.Helper()
	runtime.LockOSThread() // never unlocked: the thread exits with the test's goroutine
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET) (the test runs as root): %v", err)
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"addr", "add", hnAddr + "/32", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	if out, _ := exec.Command("ip", "route", "show", "table", "all").CombinedOutput(); strings.Contains(string(out), "default") {
		t.Fatalf("the new namespace has a default route: %s", out)
	}
}
