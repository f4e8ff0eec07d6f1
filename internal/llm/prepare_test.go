package llm

import (
	"encoding/json"
	"errors"
	"testing"
)

var (
	anthropicEP = endpoint{method: "POST", path: "/v1/messages", format: formatAnthropic, usage: usageGenerate}
	openAIEP    = endpoint{method: "POST", path: "/v1/chat/completions", format: formatOpenAI, usage: usageGenerate}
	ollamaEP    = endpoint{method: "POST", path: "/api/chat", format: formatOllama, usage: usageGenerate, streamDefault: true}
)

func TestPrepareBody(t *testing.T) {
	cases := []struct {
		name       string
		ep         endpoint
		in, model  string
		out        string
		wantModel  string
		wantStream bool
	}{
		{"untouched", anthropicEP, `{"model":"a","stream":true}`, "d", `{"model":"a","stream":true}`, "a", true},
		{"default model", anthropicEP, `{"max_tokens":1}`, "d", `{"max_tokens":1,"model":"d"}`, "d", false},
		{"null model gets default", anthropicEP, `{"model":null}`, "d", `{"model":"d"}`, "d", false},
		{"no default", anthropicEP, `{"max_tokens":1}`, "", `{"max_tokens":1}`, "", false},
		{"escaped key counts", anthropicEP, `{"mod\u0065l":"x"}`, "d", `{"mod\u0065l":"x"}`, "x", false},
		{"openai stream gets usage", openAIEP, `{"model":"g","stream":true}`, "", `{"model":"g","stream":true,"stream_options":{"include_usage":true}}`, "g", true},
		{"openai keeps other options", openAIEP, `{"stream":true,"stream_options":{"include_obfuscation":false}}`, "g", `{"stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true},"model":"g"}`, "g", true},
		{"openai false becomes true", openAIEP, `{"stream":true,"stream_options":{"include_usage":false}}`, "", `{"stream":true,"stream_options":{"include_usage":true}}`, "", true},
		{"openai already set", openAIEP, `{"stream":true, "stream_options": {"include_usage":true}}`, "", `{"stream":true, "stream_options": {"include_usage":true}}`, "", true},
		{"openai not streaming", openAIEP, `{"stream":false}`, "", `{"stream":false}`, "", false},
		{"ollama streams by default", ollamaEP, `{"model":"q"}`, "", `{"model":"q"}`, "q", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, info, err := prepareBody([]byte(tc.in), tc.ep, tc.model)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.out || info.model != tc.wantModel || info.stream != tc.wantStream {
				t.Fatalf("got %s %+v", out, info)
			}
		})
	}
	for _, bad := range []string{``, `null`, `[]`, `"s"`, `{"a":1}x`, `{"a":1}{}`, `{"model":1}`, `{"stream":"y"}`,
		`{"model":"a","model":"b"}`, `{"m\u006fdel":"a","model":"b"}`, `{"stream":true,"stream_options":"x"}`, `{`} {
		if _, _, err := prepareBody([]byte(bad), openAIEP, "d"); !errors.Is(err, errBadBody) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzPrepareBody: whatever the guest sends, an accepted body is one JSON
// object whose model and stream are what the gateway accounted for.
func FuzzPrepareBody(f *testing.F) {
	f.Add([]byte(`{"model":"a","stream":true,"stream_options":{"x":1}}`), true)
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}]}`), false)
	f.Add([]byte(`{"model":"\ud800","stream":null}`), true)
	f.Fuzz(func(t *testing.T, body []byte, openai bool) {
		ep := anthropicEP
		if openai {
			ep = openAIEP
		}
		out, info, err := prepareBody(body, ep, "default-model")
		if err != nil {
			if !errors.Is(err, errBadBody) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("forwarded body %q is not a JSON object: %v", out, err)
		}
		if m, _ := got["model"].(string); m != info.model {
			t.Fatalf("accounted model %q, forwarded %q", info.model, m)
		}
		s, _ := got["stream"].(bool)
		if s != info.stream {
			t.Fatalf("accounted stream %v, forwarded %v", info.stream, s)
		}
		if openai && info.stream {
			opts, _ := got["stream_options"].(map[string]any)
			if opts["include_usage"] != true {
				t.Fatalf("streaming body forwarded without include_usage: %s", out)
			}
		}
	})
}
