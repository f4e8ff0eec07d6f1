package llmtest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"

	"github.com/voidbox/voidbox/internal/llm/llmtest"
)

var responsesBash = responses.ToolParamOfFunction("exec_command", map[string]any{
	"type":       "object",
	"properties": map[string]any{"cmd": map[string]string{"type": "string"}},
}, false)

// streamResponse runs one streaming call and returns the completed response
// and the event types in order.
func streamResponse(c openai.Client, params responses.ResponseNewParams) (responses.Response, []string, error) {
	stream := c.Responses.NewStreaming(context.Background(), params)
	defer stream.Close()
	var types []string
	var done responses.Response
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.completed" || ev.Type == "response.incomplete" {
			done = ev.Response
		}
	}
	return done, types, stream.Err()
}

func TestResponsesSDKToolLoop(t *testing.T) {
	srv := llmtest.NewResponses(t,
		llmtest.ToolCall("exec_command", map[string]any{"cmd": "echo hi"}),
		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
			res := r.ToolResults()
			if len(res) != 1 || res[0].Content != "hi\n" {
				t.Errorf("tool results = %+v", res)
			}
			return llmtest.Text("the command said hi").WithUsage(40, 7).WithCache(10, 0)
		}),
	)
	srv.RequireKey("sk-real")
	c := openAIClient(srv.URL, "sk-real")
	params := responses.ResponseNewParams{
		Model: "gpt-5-codex",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("run it", responses.EasyInputMessageRoleUser),
		}},
		Tools: []responses.ToolUnionParam{responsesBash},
		Store: openai.Bool(false),
	}
	first, types, err := streamResponse(c, params)
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := "response.created response.in_progress response.output_item.added response.function_call_arguments.delta"
	if got := strings.Join(types, " "); !strings.HasPrefix(got, wantTypes) || !strings.HasSuffix(got, "response.output_item.done response.completed") {
		t.Errorf("event types = %s", got)
	}
	if len(first.Output) != 1 || first.Output[0].Type != "function_call" || first.Output[0].Name != "exec_command" {
		t.Fatalf("first output = %+v", first.Output)
	}
	call := first.Output[0]
	if call.Arguments.OfString != `{"cmd":"echo hi"}` {
		t.Errorf("arguments = %q", call.Arguments.OfString)
	}
	out := responses.ResponseInputItemParamOfFunctionCallOutput("hi\n")
	out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
	params.Input.OfInputItemList = append(params.Input.OfInputItemList,
		responses.ResponseInputItemParamOfFunctionCall(call.Arguments.OfString, call.CallID, call.Name), out)
	second, _, err := streamResponse(c, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := second.OutputText(); got != "the command said hi" {
		t.Errorf("text = %q", got)
	}
	if u := second.Usage; u.InputTokens != 50 || u.InputTokensDetails.CachedTokens != 10 || u.OutputTokens != 7 {
		t.Errorf("usage = %+v", u)
	}
	if got := srv.Requests()[1].Usage; got != (llmtest.Usage{Input: 40, Output: 7, CacheRead: 10}) {
		t.Errorf("recorded usage = %+v", got)
	}
}

func TestResponsesNonStreamed(t *testing.T) {
	srv := llmtest.NewResponses(t, llmtest.MaxTokens("cut").WithUsage(3, 2))
	c := openAIClient(srv.URL, "k")
	r, err := c.Responses.New(context.Background(), responses.ResponseNewParams{
		Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "incomplete" || r.IncompleteDetails.Reason != "max_output_tokens" || r.OutputText() != "cut" || r.Usage.OutputTokens != 2 {
		t.Errorf("response = %+v", r)
	}
	if got := srv.Requests()[0].LastUserText(); got != "hello" {
		t.Errorf("LastUserText = %q", got)
	}
}

func TestResponsesRejects(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"no model", `{"input":"x"}`, "'model'"},
		{"no input", `{"model":"m"}`, "'input'"},
		{"orphan output", `{"model":"m","input":[{"type":"function_call_output","call_id":"c1","output":"x"}]}`, "No tool call found"},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "Supported values"},
		{"bad tool", `{"model":"m","input":"x","tools":[{"type":"function","name":"a b"}]}`, "tools[0].name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.NewResponses(t)
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/responses", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer k")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(b), tc.want) {
				t.Errorf("status %d body %s, want 400 with %q", resp.StatusCode, b, tc.want)
			}
		})
	}
}

func TestResponsesStreamFailure(t *testing.T) {
	srv := llmtest.NewResponses(t, llmtest.StreamError("server_error", "boom"))
	c := openAIClient(srv.URL, "k")
	_, types, _ := streamResponse(c, responses.ResponseNewParams{
		Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")},
	})
	if got := strings.Join(types, " "); got != "response.created response.in_progress response.failed" {
		t.Errorf("event types = %s", got)
	}
}
