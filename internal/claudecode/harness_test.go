package claudecode

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"flag"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/claudecode/streamjson"
	"github.com/voidbox/voidbox/internal/event"
)

var update = flag.Bool("update", false, "rewrite streamjson/testdata from the real runs")

// gateway is what the guest's base URL points at: it records every request
// claude-code makes and passes it upstream (the llmtest fake, or the real
// host gateway in front of it). It moves
// role:"system" messages into the top-level system prompt first: claude-code
// 2.1.332 sends them under the per-turn-control-2026-07-01 beta, which the
// fake does not know (it answers 400, and claude-code retries without the
// beta, which would cost every run a request).
type gateway struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seenRequest // guarded by mu
	moved int           // guarded by mu: system messages moved
}

type seenRequest struct {
	Method, Path, RawQuery, Auth, ContentEncoding, Beta string
}

func newGateway(t *testing.T, upstream string) *gateway {
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g := &gateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		body, n := moveSystemMessages(body)
		g.mu.Lock()
		g.reqs = append(g.reqs, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Api-Key"), r.Header.Get("Content-Encoding"), r.Header.Get("Anthropic-Beta")})
		g.moved += n
		g.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gateway) requests() []seenRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seenRequest(nil), g.reqs...)
}

// moveSystemMessages appends the text of role:"system" messages to the
// top-level system blocks and drops them from messages.
func moveSystemMessages(body []byte) ([]byte, int) {
	var req map[string]json.RawMessage
	var msgs []map[string]json.RawMessage
	if json.Unmarshal(body, &req) != nil || json.Unmarshal(req["messages"], &msgs) != nil {
		return body, 0
	}
	var system []map[string]any
	if s := req["system"]; len(s) > 0 {
		var text string
		if json.Unmarshal(s, &text) == nil {
			system = append(system, map[string]any{"type": "text", "text": text})
		} else if json.Unmarshal(s, &system) != nil {
			return body, 0
		}
	}
	kept := msgs[:0]
	moved := 0
	for _, m := range msgs {
		if string(m["role"]) != `"system"` {
			kept = append(kept, m)
			continue
		}
		moved++
		var text string
		if json.Unmarshal(m["content"], &text) != nil {
			var blocks []struct{ Text string }
			_ = json.Unmarshal(m["content"], &blocks)
			for _, b := range blocks {
				text += b.Text
			}
		}
		system = append(system, map[string]any{"type": "text", "text": text})
	}
	if moved == 0 {
		return body, 0
	}
	req["messages"], _ = json.Marshal(kept)
	req["system"], _ = json.Marshal(system)
	out, err := json.Marshal(req)
	if err != nil {
		return body, 0
	}
	return out, moved
}

// trap is where HTTP_PROXY and HTTPS_PROXY point: any connection to it is
// traffic that was not meant for the base URL. It records the request line
// and hangs up.
type trap struct {
	ln   net.Listener
	mu   sync.Mutex
	hits []string // guarded by mu
	wg   sync.WaitGroup
}

func newTrap(t *testing.T) *trap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{ln: ln}
	tr.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			tr.mu.Lock()
			tr.hits = append(tr.hits, strings.TrimSpace(line))
			tr.mu.Unlock()
		}
	})
	t.Cleanup(func() { ln.Close(); tr.wg.Wait() })
	return tr
}

func (tr *trap) URL() string { return "http://" + tr.ln.Addr().String() }

func (tr *trap) seen() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.hits...)
}

// guestRoot builds what a voidbox guest gives claude-code, as a chroot: a
// static busybox as the only userland, the flavour at GuestDir with
// Image.GuestSymlinks, a writable home and /workspace owned by uid 1000,
// /tmp, device nodes; no glibc and no /etc of its own. The flavour is
// hard-linked, not copied.
func guestRoot(t *testing.T, im *Image) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the real-run tests chroot into a guest-like root and need root")
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("the real-run tests need a static busybox on the host (Debian: busybox-static; scripts/test.sh installs it)")
	}
	if f, err := elf.Open(busybox); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Fatalf("%s is dynamically linked; the real-run tests chroot into it and need busybox-static", busybox)
			}
		}
		f.Close()
	}
	root, err := os.MkdirTemp("", "voidbox-claude-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	for _, d := range []string{"bin", "dev", "proc", "tmp", "workspace", "home/sandbox"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	for _, d := range []string{"workspace", "home/sandbox"} {
		must(os.Chown(filepath.Join(root, d), 1000, 1000))
	}
	for name, dev := range map[string]int{"null": 3, "zero": 5, "random": 8, "urandom": 9} {
		must(syscall.Mknod(filepath.Join(root, "dev", name), syscall.S_IFCHR|0o666, 1<<8|dev))
		must(os.Chmod(filepath.Join(root, "dev", name), 0o666))
	}
	must(copyFile(busybox, filepath.Join(root, "bin", "busybox"), 0o755))
	list, err := exec.Command(busybox, "--list").Output()
	must(err)
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			must(os.Symlink("busybox", filepath.Join(root, "bin", applet)))
		}
	}
	flavour := filepath.Join(root, filepath.FromSlash(im.GuestDir))
	must(filepath.WalkDir(im.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(im.Dir, p)
		dst := filepath.Join(flavour, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if err := os.Link(p, dst); err != nil {
			fi, _ := d.Info()
			return copyFile(p, dst, fi.Mode().Perm())
		}
		return nil
	}))
	for _, l := range im.GuestSymlinks() {
		link := filepath.Join(root, filepath.FromSlash(l.Link))
		must(os.MkdirAll(filepath.Dir(link), 0o755))
		must(os.Symlink(l.Target, link))
	}
	return root
}

// realRun is one claude-code run in a guest-like root.
type realRun struct {
	stdout, stderr []byte
	err            error // from the process
	events         []event.Data
	res            *streamjson.Result
	reqs           []seenRequest
	moved          int      // system messages the gateway moved
	stray          []string // connections to the proxy trap
	written        []string // paths created outside home, /workspace and /tmp
}

// runReal runs cfg's command exactly as the guest will (argv and env from
// Command, uid 1000, cwd /workspace) in a chroot, with the base URL on the
// recording gateway and every proxy variable on the trap. prepare may put
// files into the root first.
func runReal(t *testing.T, im *Image, upstream string, cfg Config, prepare func(root string)) *realRun {
	t.Helper()
	root := guestRoot(t, im)
	if prepare != nil {
		prepare(root)
	}
	before := snapshot(t, root)
	gw := newGateway(t, upstream)
	tr := newTrap(t)
	cfg.BaseURL = gw.URL
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	argv, env := Command(cfg)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"} {
		env[k] = tr.URL()
	}
	env["NO_PROXY"], env["no_proxy"] = "127.0.0.1", "127.0.0.1"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"--mount", "--pid", "--fork", "--kill-child", "--mount-proc=/proc",
		"--root=" + root, "--wd=/workspace", "--setgid", "1000", "--setuid", "1000"}, argv...)
	cmd := exec.CommandContext(ctx, "/usr/bin/unshare", args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if in := cfg.Stdin(); in != nil {
		cmd.Stdin = bytes.NewReader(in)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	r := &realRun{err: cmd.Run()}
	var maxRSS int64 // wait4 reports the largest RSS among unshare and its waited-for child
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss
	}
	t.Logf("claude-code ran %s (%v), max RSS %d MiB; stderr: %s", time.Since(start).Round(time.Millisecond), r.err, maxRSS>>10, stderr.String())
	r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	var perr error
	r.res, perr = streamjson.ParseStream(bytes.NewReader(r.stdout), func(ev event.Data) { r.events = append(r.events, ev) })
	if perr != nil {
		t.Fatal(perr)
	}
	r.reqs, r.moved, r.stray = gw.requests(), gw.moved, tr.seen()
	for p := range snapshot(t, root) {
		if !before[p] && !strings.HasPrefix(p, "home/sandbox/") && !strings.HasPrefix(p, "workspace/") && !strings.HasPrefix(p, "tmp/") {
			r.written = append(r.written, p)
		}
	}
	return r
}

// snapshot lists every path under root.
func snapshot(t *testing.T, root string) map[string]bool {
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "proc" && d.IsDir() {
			return filepath.SkipDir
		}
		out[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// saveTranscript writes a run's stdout as a parser fixture (with -update).
// Runs happen in the chroot, so the lines hold guest paths only.
func saveTranscript(t *testing.T, name string, stdout []byte) {
	t.Helper()
	if !*update {
		return
	}
	p := filepath.Join("streamjson", "testdata", name+".jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, stdout, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkOnlyBaseURL asserts that every request went to the Messages API
// with the placeholder key and that nothing tried to leave otherwise.
func checkOnlyBaseURL(t *testing.T, r *realRun, wantRequests int) {
	t.Helper()
	if len(r.stray) != 0 {
		t.Errorf("traffic outside the base URL (via the proxy variables): %q", r.stray)
	}
	if len(r.reqs) != wantRequests {
		t.Errorf("%d requests to the base URL, want %d: %+v", len(r.reqs), wantRequests, r.reqs)
	}
	for _, q := range r.reqs {
		if q.Method != http.MethodPost || q.Path != "/v1/messages" || q.RawQuery != "beta=true" || q.Auth != PlaceholderAPIKey || q.ContentEncoding != "" {
			t.Errorf("unexpected request %+v", q)
		}
	}
	if len(r.written) != 0 {
		t.Errorf("claude-code wrote outside home, /workspace and /tmp: %v", r.written)
	}
}
