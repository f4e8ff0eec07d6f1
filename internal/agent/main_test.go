package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/voidbox/voidbox/internal/agent"
	"github.com/voidbox/voidbox/internal/agent/mcptools/mcptest"
	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// mainEnv makes the test binary run agent.Main with the config it names,
// for tests that need a separate process (signals).
const mainEnv = "VOIDBOX_AGENT_TEST_CONFIG"

func TestMain(m *testing.M) {
	mcptest.MaybeServe()
	if path := os.Getenv(mainEnv); path != "" {
		os.Exit(agent.Main(context.Background(), []string{"--config", path}, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// fake is a provider under test: its fake server constructor and name.
type fake struct {
	provider agent.Provider
	server   func(testing.TB, ...llmtest.Turn) *llmtest.Server
}

var fakes = []fake{
	{agent.ProviderAnthropic, llmtest.NewAnthropic},
	{agent.ProviderOpenAI, llmtest.NewOpenAI},
}

// forEachProvider runs f against both fake providers.
func forEachProvider(t *testing.T, f func(t *testing.T, fk fake)) {
	for _, fk := range fakes {
		t.Run(string(fk.provider), func(t *testing.T) { f(t, fk) })
	}
}

// baseConfig is a config on a fresh workspace talking to srv.
func baseConfig(t *testing.T, p agent.Provider, srv *llmtest.Server) agent.Config {
	t.Helper()
	return agent.Config{
		Provider: p, BaseURL: srv.URL, Model: "test-model", Prompt: "Do the task.",
		Workspace: t.TempDir(), MaxRetries: -1,
	}
}

// outcome is what one Main run produced.
type outcome struct {
	code   int
	events []any
	stderr string
}

// runMain writes cfg to a file and runs Main on it in process.
func runMain(t *testing.T, cfg agent.Config) outcome {
	t.Helper()
	path := writeConfig(t, cfg)
	var stdout, stderr bytes.Buffer
	code := agent.Main(context.Background(), []string{"--config", path}, &stdout, &stderr)
	return outcome{code: code, events: decodeEvents(t, stdout.Bytes()), stderr: stderr.String()}
}

func writeConfig(t *testing.T, cfg agent.Config) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeEvents parses the event stream; every line must be an event and
// the last one agent.finished.
func decodeEvents(t *testing.T, out []byte) []any {
	t.Helper()
	var evs []any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		ev, err := event.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev.Data)
	}
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	if _, ok := evs[len(evs)-1].(event.AgentFinished); !ok {
		t.Fatalf("last event is %T, want agent.finished", evs[len(evs)-1])
	}
	return evs
}

func (o outcome) finished() event.AgentFinished {
	return o.events[len(o.events)-1].(event.AgentFinished)
}

// all returns the events of type T.
func all[T any](o outcome) []T {
	var out []T
	for _, e := range o.events {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s %q lacks %q", what, s, w)
		}
	}
}
