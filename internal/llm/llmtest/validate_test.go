package llmtest_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

// post sends a raw request and returns status and body.
func post(t *testing.T, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var anthropicHeaders = map[string]string{"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}

func TestAnthropicValidation(t *testing.T) {
	const (
		user   = `{"role":"user","content":"hi"}`
		asstTU = `{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"bash","input":{}}]}`
	)
	cases := []struct {
		name, body, want string
	}{
		{"no model", `{"max_tokens":5,"messages":[` + user + `]}`, "model: Field required"},
		{"no max_tokens", `{"model":"m","messages":[` + user + `]}`, "max_tokens: Field required"},
		{"zero max_tokens", `{"model":"m","max_tokens":0,"messages":[` + user + `]}`, "greater than or equal to 1"},
		{"no messages", `{"model":"m","max_tokens":5,"messages":[]}`, "at least one message"},
		{"assistant first", `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"x"}]}`, `first message must use the "user" role`},
		{"two users", `{"model":"m","max_tokens":5,"messages":[` + user + `,` + user + `]}`, "roles must alternate"},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "role: Input should be"},
		{"empty text", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]}`, "must be non-empty"},
		{"unknown block", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "does not match"},
		{"tool_use without result", `{"model":"m","max_tokens":5,"messages":[` + user + `,` + asstTU + `,` + user + `]}`, "without `tool_result` blocks immediately after: toolu_1"},
		{"tool_use last", `{"model":"m","max_tokens":5,"messages":[` + user + `,` + asstTU + `]}`, "without `tool_result`"},
		{"result id mismatch", `{"model":"m","max_tokens":5,"messages":[` + user + `,` + asstTU + `,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_2","content":"x"}]}]}`, "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2"},
		{"result after text", `{"model":"m","max_tokens":5,"messages":[` + user + `,` + asstTU + `,{"role":"user","content":[{"type":"text","text":"a"},{"type":"tool_result","tool_use_id":"toolu_1"}]}]}`, "must come first"},
		{"result in assistant", `{"model":"m","max_tokens":5,"messages":[` + user + `,{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"x"}]}]}`, "only allowed in user messages"},
		{"tool without schema", `{"model":"m","max_tokens":5,"tools":[{"name":"bash"}],"messages":[` + user + `]}`, "input_schema: Field required"},
		{"bad tool name", `{"model":"m","max_tokens":5,"tools":[{"name":"a b","input_schema":{"type":"object"}}],"messages":[` + user + `]}`, "should match pattern"},
		{"tool_choice unknown tool", `{"model":"m","max_tokens":5,"tool_choice":{"type":"tool","name":"x"},"messages":[` + user + `]}`, `tool "x" is not in tools`},
		{"stream not bool", `{"model":"m","max_tokens":5,"stream":"yes","messages":[` + user + `]}`, "valid boolean"},
		{"not json", `{"model":`, "not a JSON object"},
	}
	srv := llmtest.NewAnthropic(t, llmtest.Text("ok"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv.URL+"/v1/messages", anthropicHeaders, tc.body)
			var e struct {
				Type  string
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != 400 || e.Type != "error" || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tc.want) {
				t.Fatalf("got %d %s, want 400 with %q", status, body, tc.want)
			}
		})
	}
	// A valid conversation with a tool round trip passes, using the one turn.
	ok := `{"model":"m","max_tokens":5,"messages":[` + `{"role":"user","content":"hi"},` + asstTU +
		`,{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"out"}]},{"type":"text","text":"go on"}]}]}`
	if status, body := post(t, srv.URL+"/v1/messages", anthropicHeaders, ok); status != 200 {
		t.Fatalf("valid request: %d %s", status, body)
	}
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	if res := last.ToolResults(); len(res) != 1 || res[0].ID != "toolu_1" || res[0].Content != "out" {
		t.Fatalf("tool results = %+v", res)
	}
	if got := last.LastUserText(); got != "go on" {
		t.Fatalf("last user text = %q", got)
	}
	if reqs[0].Invalid == "" || reqs[0].Status != 400 {
		t.Fatalf("first request recorded as %d %q", reqs[0].Status, reqs[0].Invalid)
	}
}

func TestAnthropicHeadersAndRoutes(t *testing.T) {
	srv := llmtest.NewAnthropic(t)
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	if s, b := post(t, srv.URL+"/v1/messages", map[string]string{"anthropic-version": "2023-06-01"}, body); s != 401 || !strings.Contains(b, "authentication_error") {
		t.Fatalf("no key: %d %s", s, b)
	}
	if s, b := post(t, srv.URL+"/v1/messages", map[string]string{"x-api-key": "k"}, body); s != 400 || !strings.Contains(b, "anthropic-version") {
		t.Fatalf("no version: %d %s", s, b)
	}
	if s, b := post(t, srv.URL+"/v1/complete", anthropicHeaders, body); s != 404 || !strings.Contains(b, "not_found_error") {
		t.Fatalf("unknown path: %d %s", s, b)
	}
	if s, b := post(t, srv.URL+"/v1/messages/count_tokens", anthropicHeaders, body); s != 200 || !strings.Contains(b, `"input_tokens"`) {
		t.Fatalf("count_tokens: %d %s", s, b)
	}
}

func TestOpenAIValidation(t *testing.T) {
	const (
		user     = `{"role":"user","content":"hi"}`
		asstCall = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"bash","arguments":"{}"}}]}`
	)
	cases := []struct{ name, body, want string }{
		{"no model", `{"messages":[` + user + `]}`, "you must provide a model parameter"},
		{"no messages", `{"model":"m"}`, "'messages'"},
		{"empty messages", `{"model":"m","messages":[]}`, "empty array"},
		{"bad role", `{"model":"m","messages":[{"role":"bot","content":"x"}]}`, "Supported values"},
		{"stream_options without stream", `{"model":"m","stream_options":{"include_usage":true},"messages":[` + user + `]}`, "only allowed when 'stream' is enabled"},
		{"tool without call", `{"model":"m","messages":[` + user + `,{"role":"tool","tool_call_id":"call_1","content":"x"}]}`, "must be a response to a preceeding message with 'tool_calls'"},
		{"call without tool", `{"model":"m","messages":[` + user + `,` + asstCall + `,` + user + `]}`, "did not have response messages: call_1"},
		{"call last", `{"model":"m","messages":[` + user + `,` + asstCall + `]}`, "did not have response messages: call_1"},
		{"wrong id", `{"model":"m","messages":[` + user + `,` + asstCall + `,{"role":"tool","tool_call_id":"call_9","content":"x"}]}`, "'call_9' not found"},
		{"bad tool", `{"model":"m","tools":[{"type":"function","function":{"name":"a b"}}],"messages":[` + user + `]}`, "does not match pattern"},
		{"n>1", `{"model":"m","n":2,"messages":[` + user + `]}`, "n=1"},
	}
	srv := llmtest.NewOpenAI(t, llmtest.Text("ok"))
	hdr := map[string]string{"authorization": "Bearer k"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, srv.URL+"/v1/chat/completions", hdr, tc.body)
			var e struct {
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != 400 || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tc.want) {
				t.Fatalf("got %d %s, want 400 with %q", status, body, tc.want)
			}
		})
	}
	ok := `{"model":"m","messages":[` + user + `,` + asstCall + `,{"role":"tool","tool_call_id":"call_1","content":"out"}]}`
	if status, body := post(t, srv.URL+"/v1/chat/completions", hdr, ok); status != 200 {
		t.Fatalf("valid request: %d %s", status, body)
	}
	if s, b := post(t, srv.URL+"/v1/chat/completions", nil, ok); s != 401 || !strings.Contains(b, "API key") {
		t.Fatalf("no key: %d %s", s, b)
	}
}

// recordingTB captures Errorf so a test can check that the fake reports
// misuse, without failing itself.
type recordingTB struct {
	testing.TB
	errs chan string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs <- format
}

func TestScriptExhaustedIsReported(t *testing.T) {
	tb := &recordingTB{TB: t, errs: make(chan string, 4)}
	srv := llmtest.NewOpenAI(tb)
	status, body := post(t, srv.URL+"/v1/chat/completions", map[string]string{"authorization": "Bearer k"},
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if status != 500 || !strings.Contains(body, "script exhausted") {
		t.Fatalf("got %d %s", status, body)
	}
	select {
	case msg := <-tb.errs:
		if !strings.Contains(msg, "script has only") {
			t.Fatalf("reported %q", msg)
		}
	default:
		t.Fatal("exhausted script not reported to the test")
	}
}

// TestPauseAfterFirstEvent checks the fake itself streams: the first event
// is readable while the rest is held back.
func TestPauseAfterFirstEvent(t *testing.T) {
	release := make(chan struct{})
	srv := llmtest.NewAnthropic(t, llmtest.Text("hello world").PauseAfterFirstEvent(release))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(
		`{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	for k, v := range anthropicHeaders {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() {
		line, _ := rd.ReadString('\n')
		first <- line
	}()
	select {
	case line := <-first:
		if line != "event: message_start\n" {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first event not delivered while paused")
	}
	close(release)
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rest), "event: message_stop") {
		t.Fatalf("stream did not finish: %q", rest)
	}
}
