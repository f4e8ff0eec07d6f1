package llmtest

import (
	"net/http"
	"time"
)

// serveOpenAI is the fake Chat Completions API.
func (s *Server) serveOpenAI(w http.ResponseWriter, r *http.Request) {
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
	route := r.Method + " " + r.URL.Path
	if route != "POST /v1/chat/completions" && route != "GET /v1/models" {
		fail(http.StatusNotFound, "invalid_request_error", "Invalid URL ("+route+")")
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
	if route == "GET /v1/models" {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{
			{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
		}})
		s.finish(i, http.StatusOK, Usage{}, "")
		return
	}
	if msg := validateOpenAI(req.JSON); msg != "" {
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
	case turn.kind == kindMalformed && !req.Stream:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"message":{"role":"assi`))
		s.finish(i, http.StatusOK, Usage{}, "")
	case req.Stream:
		u := s.streamOpenAI(w, r, req, turn)
		s.finish(i, http.StatusOK, u, "")
	default:
		c, u := s.openAICompletion(req, turn)
		writeJSON(w, http.StatusOK, c)
		s.finish(i, http.StatusOK, u, "")
	}
}

func openAIError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": nil,
	}})
}

// openAIReply is a turn rendered to Chat Completions parts.
type openAIReply struct {
	content *string
	calls   []oToolCall
	finish  string
	answer  string
}

type oToolCall struct {
	Index    *int      `json:"index,omitempty"` // only in stream deltas
	ID       string    `json:"id,omitempty"`
	Type     string    `json:"type,omitempty"`
	Function oFunction `json:"function"`
}

type oFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

func (s *Server) renderOpenAI(t Turn) openAIReply {
	var rep openAIReply
	if t.text != "" || len(t.calls) == 0 {
		text := t.text
		rep.content = &text
		rep.answer += text
	}
	for _, c := range t.calls {
		id := c.ID
		if id == "" {
			id = s.newID("call_")
		}
		args := marshalInput(c.Input)
		rep.calls = append(rep.calls, oToolCall{ID: id, Type: "function", Function: oFunction{Name: c.Name, Arguments: args}})
		rep.answer += args
	}
	switch {
	case t.stop == stopMaxTokens:
		rep.finish = "length"
	case len(t.calls) > 0:
		rep.finish = "tool_calls"
	default:
		rep.finish = "stop"
	}
	return rep
}

// openAIUsage renders usage; prompt_tokens includes cached tokens.
func openAIUsage(u Usage) map[string]any {
	prompt := u.Input + u.CacheRead + u.CacheWrite
	return map[string]any{
		"prompt_tokens":     prompt,
		"completion_tokens": u.Output,
		"total_tokens":      prompt + u.Output,
		"prompt_tokens_details": map[string]int{
			"cached_tokens": u.CacheRead, "audio_tokens": 0,
		},
		"completion_tokens_details": map[string]int{
			"reasoning_tokens": 0, "audio_tokens": 0,
			"accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
		},
	}
}

func (s *Server) openAICompletion(req *Request, t Turn) (map[string]any, Usage) {
	rep := s.renderOpenAI(t)
	u := estimate(t, req.Body, rep.answer)
	msg := map[string]any{"role": "assistant", "content": rep.content, "refusal": nil, "annotations": []any{}}
	if len(rep.calls) > 0 {
		msg["tool_calls"] = rep.calls
	}
	return map[string]any{
		"id":      s.newID("chatcmpl-"),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []map[string]any{{
			"index": 0, "message": msg, "logprobs": nil, "finish_reason": rep.finish,
		}},
		"usage":              openAIUsage(u),
		"service_tier":       "default",
		"system_fingerprint": "fp_llmtest",
	}, u
}
