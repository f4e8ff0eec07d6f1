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
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/toolbox"
	"github.com/voidbox/voidbox/internal/vmtest"
)

// hnAddr stands in for the Hacker News API. `network: true` is the public
// internet only, so a test server on loopback is exactly what it must
// refuse; this test makes its own network namespace, with nothing in it
// but loopback carrying a public address, and runs the servers and voidbox
// there: the box's traffic goes through the real public path and cannot
// leave the namespace.
const hnAddr = "1.2.3.4"

// offLimits are addresses `network: true` must never reach, each with the
// reason its denial names. The namespace puts a real server on each, so a
// policy that let one through would be caught by the page it serves, not
// only by an event.
var offLimits = map[string]string{
	"10.0.0.5":        "private",
	"192.168.77.1":    "private",
	"169.254.169.254": "cloud metadata",
	"100.64.0.9":      "shared address space (CGNAT)",
}

// TestSeedNetworkTrueE2E: the seed's hackernews_agent.yaml shape (network:
// true, a file: skill, an ollama-style provider) validates and runs an
// agent stage whose tool call fetches from the "API" with busybox wget.
func TestSeedNetworkTrueE2E(t *testing.T) {
	vmtest.Setup(t)   // prepares the image before the namespace (downloads need the host's network)
	vmtest.Toolbox(t) // and the toolbox image, for the curl variant
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

	// Servers the box must not reach: one on each off-limits address, and
	// one on host loopback (the gateway's port, not in host_ports).
	var reached atomic.Int32
	forbidden := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		fmt.Fprint(w, "FORBIDDEN PAGE")
	})
	probes := ""
	for ip := range offLimits {
		serve(t, ip+":80", forbidden)
		probes += " http://" + ip + "/"
	}
	loop := serve(t, "127.0.0.1:0", forbidden)
	_, loopPort, _ := net.SplitHostPort(loop)
	probes += " http://10.0.2.2:" + loopPort + "/"

	fetch := "wget -qO- http://" + hnAddr + "/v0/topstories.json && wget -qO- http://" + hnAddr + "/v0/item/4101.json; " +
		"for u in" + probes + "; do wget -qO- $u 2>&1; echo probe $u exit $?; done" // no -T: this busybox's wget -T segfaults
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
					FlowsDenied  int64 `json:"flows_denied"`
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
	if n := rep.Stages[0].Detail.Network; n == nil || n.FlowsAllowed != 2 || n.FlowsDenied != int64(len(offLimits)+1) || n.BytesIn == 0 {
		t.Errorf("report network %+v", n)
	}
	// Every probe failed in the guest (busybox wget exits 1), no server
	// off limits saw a request, and each denial names its reason.
	if n := strings.Count(rep.Output, " exit 1\n"); n != len(offLimits)+1 || strings.Contains(rep.Output, "FORBIDDEN") || reached.Load() != 0 {
		t.Errorf("%d of %d probes failed, %d requests reached a forbidden server; output %q", n, len(offLimits)+1, reached.Load(), rep.Output)
	}
	allowed := 0
	denied := map[string]string{}
	for _, e := range readNetEvents(t, events) {
		if e.Type == "net.allowed" && e.Fields.Proto == "tcp" && e.Fields.IP == hnAddr && e.Fields.Port == 80 {
			allowed++
			if e.Fields.Box != "hn_researcher" || !strings.Contains(e.Fields.Reason, "is public") {
				t.Errorf("event %+v", e)
			}
		}
		if e.Type == "net.denied" && e.Fields.Proto == "tcp" {
			denied[fmt.Sprintf("%s:%d", e.Fields.IP, e.Fields.Port)] = e.Fields.Reason
		}
	}
	if allowed != 2 {
		t.Errorf("%d allowed flows to the API in the events, want 2", allowed)
	}
	for ip, why := range offLimits {
		if r := denied[ip+":80"]; !strings.Contains(r, why) {
			t.Errorf("denial of %s: %q, want %q", ip, r, why)
		}
	}
	if r := denied["127.0.0.1:"+loopPort]; !strings.Contains(r, "not in host_ports") {
		t.Errorf("denial of host loopback: %q", r)
	}

	// The same spec on the toolbox image: the agent's tool is curl, from
	// the image, through the same public-only network.
	curl := "curl -sS http://" + hnAddr + "/v0/item/4101.json; curl -sS -m 5 http://169.254.169.254/ ; echo metadata exit $?"
	model2 := llmtest.NewOpenAI(t,
		llmtest.ToolCall("bash", map[string]any{"command": curl}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) == 0 {
				return llmtest.Text("no tool result")
			}
			return llmtest.Text("fetched: " + res[0].Content)
		}))
	src, _ := os.ReadFile(spec)
	img := strings.Replace(strings.Replace(string(src), "  network: true\n", "  network: true\n  image: "+toolbox.Ref+"\n", 1),
		fmt.Sprintf("%q", model.URL), fmt.Sprintf("%q", model2.URL), 1)
	spec2 := filepath.Join(dir, "hackernews_toolbox.yaml")
	os.WriteFile(spec2, []byte(img), 0o644)
	r = voidbox(t, "", "run", "--file", spec2, "--output", "json", "--progress", "none")
	rep.Output = ""
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("toolbox: exit %d: %v\nstdout %s\nstderr %s", r.code, err, r.stdout, r.stderr)
	}
	if !strings.Contains(rep.Output, `"title":"Agents in micro-VMs"`) || !(strings.Contains(rep.Output, "metadata exit 7") || strings.Contains(rep.Output, "metadata exit 28")) ||
		strings.Contains(rep.Output, "FORBIDDEN") || reached.Load() != 0 {
		t.Errorf("toolbox output %q (forbidden requests %d)", rep.Output, reached.Load())
	}
}

// serve runs h on addr (in the test's namespace) until the test ends and
// returns the address it listens on.
func serve(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln) // ends when the cleanup closes the server
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// enterNetNS moves the test's goroutine, locked to its thread for the rest
// of the test (the thread dies with it), into a new network namespace with
// loopback up and hnAddr and the offLimits addresses on it. Sockets it
// opens, and processes it starts, live there; nothing in it routes anywhere
// else.
func enterNetNS(t *testing.T) {
	t.Helper()
	runtime.LockOSThread() // never unlocked: the thread exits with the test's goroutine
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET) (the test runs as root): %v", err)
	}
	cmds := [][]string{{"link", "set", "lo", "up"}, {"addr", "add", hnAddr + "/32", "dev", "lo"}}
	for ip := range offLimits {
		cmds = append(cmds, []string{"addr", "add", ip + "/32", "dev", "lo"})
	}
	for _, args := range cmds {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	if out, _ := exec.Command("ip", "route", "show", "table", "all").CombinedOutput(); strings.Contains(string(out), "default") {
		t.Fatalf("the new namespace has a default route: %s", out)
	}
}
