// Package llmtest provides protocol-faithful fake LLM providers for tests:
// an Anthropic Messages API server and an OpenAI Chat Completions server,
// each an httptest.Server that answers a script of turns.
//
// The fakes speak the real wire formats closely enough for the official
// SDKs (JSON and SSE streaming, tool calls, usage, error bodies), validate
// requests the way the real APIs do where client bugs usually hide (required
// fields, role order, tool_use / tool_result pairing, stream_options) and
// answer 400 otherwise, and record every request with the credential seen.
//
// Anthropic role order is checked more strictly than the real API, which
// merges consecutive same-role turns: the fake wants them alternating and the
// first one from the user, because an agent loop that produces anything else
// has a bug.
//
// Typical use:
//
//	srv := llmtest.NewAnthropic(t,
//		llmtest.ToolCall("bash", map[string]any{"command": "echo hi"}),
//		llmtest.Func(func(r *llmtest.Request) llmtest.Turn {
//			return llmtest.Text("tool said: " + r.ToolResults()[0].Content)
//		}),
//	)
//	// point a client (or the gateway) at srv.URL, then:
//	srv.Requests()[0].Auth // the key the fake received
package llmtest
