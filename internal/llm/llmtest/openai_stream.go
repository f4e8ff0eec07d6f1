package llmtest

import (
	"net/http"
	"time"
)

// streamOpenAI writes a turn as chat.completion.chunk events: a role chunk,
// content deltas, tool_calls deltas (id and name first, then argument
// pieces), a finish_reason chunk, a usage chunk with empty choices when the
// request set stream_options.include_usage, and finally data: [DONE]. It
// returns the usage it reported, which is none without include_usage.
func (s *Server) streamOpenAI(w http.ResponseWriter, r *http.Request, req *Request, t Turn) Usage {
	rep := s.renderOpenAI(t)
	u := estimate(t, req.Body, rep.answer)
	opts, _ := req.JSON["stream_options"].(map[string]any)
	includeUsage := opts["include_usage"] == true
	id, created := s.newID("chatcmpl-"), time.Now().Unix()
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": "fp_llmtest",
			"choices":            []map[string]any{{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	sse := newSSE(w, r, t.pause)
	if !sse.event("", chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)) {
		return Usage{}
	}
	switch t.kind {
	case kindMalformed:
		sse.garbage(`data: {"id":"` + id + `","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":` + "\n\n")
		return Usage{}
	case kindStreamError:
		sse.event("", map[string]any{"error": map[string]any{"message": t.errMsg, "type": t.errType, "param": nil, "code": nil}})
		return Usage{}
	}
	if rep.content != nil {
		for _, c := range chunks(*rep.content, 12) {
			if !sse.event("", chunk(map[string]any{"content": c}, nil)) {
				return Usage{}
			}
		}
	}
	for i, call := range rep.calls {
		idx := i
		first := oToolCall{Index: &idx, ID: call.ID, Type: "function", Function: oFunction{Name: call.Function.Name}}
		if !sse.event("", chunk(map[string]any{"tool_calls": []oToolCall{first}}, nil)) {
			return Usage{}
		}
		for _, piece := range chunks(call.Function.Arguments, 10) {
			part := oToolCall{Index: &idx, Function: oFunction{Arguments: piece}}
			if !sse.event("", chunk(map[string]any{"tool_calls": []oToolCall{part}}, nil)) {
				return Usage{}
			}
		}
	}
	if !sse.event("", chunk(map[string]any{}, rep.finish)) {
		return Usage{}
	}
	if includeUsage {
		final := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": "fp_llmtest", "choices": []any{}, "usage": openAIUsage(u),
		}
		if !sse.event("", final) {
			return Usage{}
		}
	}
	sse.raw("", "[DONE]")
	if !includeUsage {
		return Usage{} // nothing was reported
	}
	return u
}
