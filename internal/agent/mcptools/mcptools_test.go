package mcptools_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/agent/mcptools"
	"github.com/voidbox/voidbox/internal/agent/mcptools/mcptest"
	"github.com/voidbox/voidbox/internal/agent/tools"
)

func TestMain(m *testing.M) {
	mcptest.MaybeServe()
	os.Exit(m.Run())
}

// stdio returns a server config that runs this test binary as mcptest.
func stdio(t *testing.T, name, mode string) mcptools.Server {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The race runtime sleeps a second at exit unless told otherwise.
	return mcptools.Server{Name: name, Command: exe, Env: []string{mcptest.Env(mode), "GORACE=atexit_sleep_ms=0"}}
}

func connect(t *testing.T, servers ...mcptools.Server) *mcptools.Set {
	t.Helper()
	set, err := mcptools.Connect(context.Background(), servers, mcptools.Options{Dir: t.TempDir(), Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return set
}

func byName(set *mcptools.Set) map[string]tools.Tool {
	m := map[string]tools.Tool{}
	for _, t := range set.Tools() {
		m[t.Name] = t
	}
	return m
}

func TestStdioAndHTTPTools(t *testing.T) {
	web := mcptest.NewHTTP()
	t.Cleanup(web.Close) // after the set's Close, registered later
	set := connect(t, stdio(t, "calc", mcptest.Serve), mcptools.Server{Name: "web", URL: web.URL})
	m := byName(set)
	for _, name := range []string{"calc__add", "calc__crash", "web__add", "web__sleep"} {
		if _, ok := m[name]; !ok {
			t.Fatalf("tool %s missing; have %v", name, m)
		}
	}
	var schema struct {
		Type       string                    `json:"type"`
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(m["calc__add"].Schema, &schema); err != nil || schema.Type != "object" || schema.Properties["a"]["type"] != "integer" {
		t.Errorf("schema %s (%v)", m["calc__add"].Schema, err)
	}
	if m["calc__add"].Description != "Add two integers." {
		t.Errorf("description %q", m["calc__add"].Description)
	}
	for _, name := range []string{"calc__add", "web__add"} {
		res := m[name].Call(context.Background(), json.RawMessage(`{"a":2,"b":40}`))
		if res.IsError || res.Content != "2+40=42" {
			t.Errorf("%s: %+v", name, res)
		}
	}
	res := m["calc__fail"].Call(context.Background(), json.RawMessage(`{}`))
	if !res.IsError || !strings.Contains(res.Content, "always fails") || res.Error == "" {
		t.Errorf("fail: %+v", res)
	}
	if res := m["calc__add"].Call(context.Background(), json.RawMessage(`{"a":`)); !res.IsError {
		t.Errorf("truncated input accepted: %+v", res)
	}
}

func TestServerCrashMidRun(t *testing.T) {
	set := connect(t, stdio(t, "calc", mcptest.Serve))
	m := byName(set)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	res := m["calc__crash"].Call(ctx, json.RawMessage(`{}`))
	if !res.IsError || !strings.Contains(res.Content, `mcp server "calc"`) {
		t.Fatalf("crash call: %+v", res)
	}
	if ctx.Err() != nil {
		t.Fatalf("the call only ended with its timeout after %v: %+v", time.Since(start), res)
	}
	// Later calls fail at once instead of hanging.
	res = m["calc__add"].Call(ctx, json.RawMessage(`{"a":1,"b":1}`))
	if !res.IsError || ctx.Err() != nil {
		t.Errorf("call after crash: %+v (ctx %v)", res, ctx.Err())
	}
}

func TestCallTimeout(t *testing.T) {
	set := connect(t, stdio(t, "calc", mcptest.Serve))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := byName(set)["calc__sleep"].Call(ctx, json.RawMessage(`{"ms":20000}`))
	if !res.IsError || !strings.Contains(res.Content, "deadline exceeded") {
		t.Errorf("result %+v", res)
	}
	// The server is still usable.
	if res := byName(set)["calc__add"].Call(context.Background(), json.RawMessage(`{"a":1,"b":2}`)); res.Content != "1+2=3" {
		t.Errorf("after timeout: %+v", res)
	}
}

func TestStartFailures(t *testing.T) {
	good := stdio(t, "good", mcptest.Serve)
	cases := []struct {
		name   string
		server mcptools.Server
		want   []string
	}{
		{"exits", stdio(t, "broken", mcptest.FailStart), []string{`mcp server "broken"`, mcptest.FailMessage}},
		{"missing", mcptools.Server{Name: "nope", Command: "/nonexistent/mcp-server"}, []string{`mcp server "nope"`, "no such file"}},
		{"http down", mcptools.Server{Name: "web", URL: "http://127.0.0.1:1/mcp"}, []string{`mcp server "web"`, "connection refused"}},
		{"empty", mcptools.Server{Name: "empty"}, []string{"neither command nor url"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := mcptools.Connect(context.Background(), []mcptools.Server{good, c.server}, mcptools.Options{Env: os.Environ(), StartTimeout: 10 * time.Second})
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestToolName(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"calc", "add"}:                "calc__add",
		{"my.server", "do thing/now"}:  "my_server__do_thing_now",
		{"s", strings.Repeat("x", 80)}: "s__" + strings.Repeat("x", 61),
	} {
		if got := mcptools.ToolName(in[0], in[1]); got != want || !tools.ValidName(got) {
			t.Errorf("ToolName(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
