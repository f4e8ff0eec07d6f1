package llmtest

import (
	"net/http"
	"testing"
	"time"
)

// NewResponses starts a fake OpenAI Responses API (POST /v1/responses)
// answering script: the API Codex CLI speaks. A Call becomes a
// function_call output item; the client answers it with a
// function_call_output input item, which Request.ToolResults returns.
func NewResponses(t testing.TB, script ...Turn) *Server {
	return start(t, "responses", script)
}

// NewChatGPT starts a fake of ChatGPT's Codex backend: the Responses API
// at POST /backend-api/codex/responses (the base URL is URL +
// "/backend-api/codex") and an empty model list at GET .../models, reached
// with a ChatGPT login's bearer token and its ChatGPT-Account-Id
// (RequireKey, RequireAccount), as the Codex CLI does in that mode.
func NewChatGPT(t testing.TB, script ...Turn) *Server {
	return start(t, "chatgpt", script)
}

// chatGPTBase is the path of NewChatGPT's base URL.
const chatGPTBase = "/backend-api/codex"

// RequireAccount makes the server reject requests whose ChatGPT-Account-Id
// is not account (NewChatGPT).
func (s *Server) RequireAccount(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wantAccount = account
}

// serveResponses is the fake Responses API.
func (s *Server) serveResponses(w http.ResponseWriter, r *http.Request) {
	route := "POST /v1/responses"
	if s.format == "chatgpt" {
		route = "POST " + chatGPTBase + "/responses"
		if r.Method == http.MethodGet && r.URL.Path == chatGPTBase+"/models" && s.keyOK(bearer(r)) && s.accountOK(r) {
			writeJSON(w, http.StatusOK, map[string]any{"models": []any{}})
			return
		}
	}
	i, req, err := s.begin(r)
	w.Header().Set("X-Request-Id", s.newID("req_"))
	fail := func(status int, typ, msg string) {
		openAIError(w, status, typ, msg)
		invalid := ""
		if status == http.StatusBadRequest {
			invalid = msg
		}
		s.finish(i, status, Usage{}, invalid)
	}
	if err != nil {
		fail(http.StatusBadRequest, "invalid_request_error", "reading body: "+err.Error())
		return
	}
	if got := r.Method + " " + r.URL.Path; got != route {
		fail(http.StatusNotFound, "invalid_request_error", "Invalid URL ("+got+")")
		return
	}
	if req.Auth == "" {
		fail(http.StatusUnauthorized, "invalid_request_error", "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
		return
	}
	if !s.keyOK(req.Auth) {
		fail(http.StatusUnauthorized, "invalid_request_error", "Incorrect API key provided.")
		return
	}
	if s.format == "chatgpt" && !s.accountOK(r) {
		fail(http.StatusForbidden, "invalid_request_error", "ChatGPT-Account-Id does not match the token's account.")
		return
	}
	if msg := validateResponses(req.JSON); msg != "" {
		fail(http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	turn, ok := s.takeTurn(req)
	if !ok {
		fail(http.StatusInternalServerError, "server_error", "llmtest: script exhausted")
		return
	}
	switch {
	case turn.kind == kindError:
		fail(turn.status, turn.errType, turn.errMsg)
	case turn.kind == kindStreamError && !req.Stream:
		fail(streamErrorStatus(turn.errType), turn.errType, turn.errMsg)
	case turn.kind == kindMalformed && !req.Stream:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"resp_broken","object":"response","output":[{"type":"message","content":[{"type":"outp`))
		s.finish(i, http.StatusOK, Usage{}, "")
	case req.Stream:
		u := s.streamResponses(w, r, req, turn)
		s.finish(i, http.StatusOK, u, "")
	default:
		rep := s.renderResponses(turn)
		u := estimate(turn, req.Body, rep.answer)
		writeJSON(w, http.StatusOK, rep.response(req, "", u))
		s.finish(i, http.StatusOK, u, "")
	}
}

// responsesReply is a turn rendered to Responses output items.
type responsesReply struct {
	id      string
	created int64
	items   []map[string]any // the completed output items, in order
	texts   []string         // per item: its text (message) or arguments (function_call)
	answer  string
	maxed   bool // cut off by max_output_tokens
}

func (s *Server) renderResponses(t Turn) responsesReply {
	rep := responsesReply{id: s.newID("resp_"), created: time.Now().Unix(), maxed: t.stop == stopMaxTokens}
	if t.text != "" || len(t.calls) == 0 {
		status := "completed"
		if rep.maxed {
			status = "incomplete"
		}
		rep.items = append(rep.items, map[string]any{
			"id": s.newID("msg_"), "type": "message", "status": status, "role": "assistant",
			"content": []map[string]any{{"type": "output_text", "text": t.text, "annotations": []any{}, "logprobs": []any{}}},
		})
		rep.texts = append(rep.texts, t.text)
		rep.answer += t.text
	}
	for _, c := range t.calls {
		callID := c.ID
		if callID == "" {
			callID = s.newID("call_")
		}
		args := marshalInput(c.Input)
		rep.items = append(rep.items, map[string]any{
			"id": s.newID("fc_"), "type": "function_call", "status": "completed",
			"call_id": callID, "name": c.Name, "arguments": args,
		})
		rep.texts = append(rep.texts, args)
		rep.answer += args
	}
	return rep
}

// responsesUsage renders usage: input_tokens is the whole prompt, cached
// tokens a part of it.
func responsesUsage(u Usage) map[string]any {
	input := u.Input + u.CacheRead + u.CacheWrite
	return map[string]any{
		"input_tokens":          input,
		"input_tokens_details":  map[string]int{"cached_tokens": u.CacheRead},
		"output_tokens":         u.Output,
		"output_tokens_details": map[string]int{"reasoning_tokens": 0},
		"total_tokens":          input + u.Output,
	}
}

// response is the response object; status "" means the final one
// (completed, or incomplete when maxed) with output and usage.
func (rep responsesReply) response(req *Request, status string, u Usage) map[string]any {
	obj := map[string]any{
		"id": rep.id, "object": "response", "created_at": rep.created, "model": req.Model,
		"status": status, "output": []any{}, "usage": nil, "error": nil, "incomplete_details": nil,
		"parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{}, "store": req.JSON["store"] != false,
	}
	if status != "" {
		return obj
	}
	obj["status"], obj["output"], obj["usage"] = "completed", rep.items, responsesUsage(u)
	if rep.maxed {
		obj["status"] = "incomplete"
		obj["incomplete_details"] = map[string]string{"reason": "max_output_tokens"}
	}
	return obj
}
