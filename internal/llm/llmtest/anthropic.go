package llmtest

import (
	"encoding/json"
	"net/http"
)

// serveAnthropic is the fake Messages API.
func (s *Server) serveAnthropic(w http.ResponseWriter, r *http.Request) {
	i, req, err := s.begin(r)
	w.Header().Set("Request-Id", s.newID("req_"))
	fail := func(status int, typ, msg string) {
		anthropicError(w, status, typ, msg)
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
	countTokens := r.URL.Path == "/v1/messages/count_tokens"
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/messages" && !countTokens) {
		fail(http.StatusNotFound, "not_found_error", "Not Found")
		return
	}
	if req.Auth == "" {
		fail(http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		return
	}
	if !s.keyOK(req.Auth) {
		fail(http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		fail(http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	if countTokens {
		s.countTokens(w, req, i, fail)
		return
	}
	if msg := validateAnthropic(req.JSON); msg != "" {
		fail(http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	turn, ok := s.takeTurn(req)
	if !ok {
		fail(http.StatusInternalServerError, "api_error", "llmtest: script exhausted")
		return
	}
	switch {
	case turn.kind == kindError:
		fail(turn.status, turn.errType, turn.errMsg)
	case turn.kind == kindMalformed && !req.Stream:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":"msg_broken","type":"message","role":"assistant","content":[{"type":"te`))
		s.finish(i, http.StatusOK, Usage{}, "")
	case req.Stream:
		u := s.streamAnthropic(w, r, req, turn)
		s.finish(i, http.StatusOK, u, "")
	default:
		msg, u := s.anthropicMessage(req, turn)
		writeJSON(w, http.StatusOK, msg)
		s.finish(i, http.StatusOK, u, "")
	}
}

// countTokens answers /v1/messages/count_tokens; it uses no script turn.
func (s *Server) countTokens(w http.ResponseWriter, req *Request, i int, fail func(int, string, string)) {
	if m, ok := req.JSON["model"].(string); !ok || m == "" {
		fail(http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	}
	if msg := validateAnthropicMessages(req.JSON["messages"]); msg != "" {
		fail(http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": max(1, len(req.Body)/4)})
	s.finish(i, http.StatusOK, Usage{}, "")
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{
		"type":  "error",
		"error": map[string]string{"type": typ, "message": msg},
	})
}

// Wire types of the Messages API response, in the API's field order.
type aMessage struct {
	ID           string   `json:"id"`
	Type         string   `json:"type"`
	Role         string   `json:"role"`
	Model        string   `json:"model"`
	Content      []aBlock `json:"content"`
	StopReason   *string  `json:"stop_reason"`
	StopSequence *string  `json:"stop_sequence"`
	Usage        aUsage   `json:"usage"`
}

type aBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

type aUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// anthropicReply is a turn rendered to content blocks.
type anthropicReply struct {
	blocks []aBlock
	stop   string
	answer string // all generated text, for the usage estimate
}

func (s *Server) renderAnthropic(t Turn) anthropicReply {
	var rep anthropicReply
	if t.text != "" || len(t.calls) == 0 {
		text := t.text
		rep.blocks = append(rep.blocks, aBlock{Type: "text", Text: &text})
		rep.answer += text
	}
	for _, c := range t.calls {
		id := c.ID
		if id == "" {
			id = s.newID("toolu_")
		}
		input := marshalInput(c.Input)
		rep.blocks = append(rep.blocks, aBlock{Type: "tool_use", ID: id, Name: c.Name, Input: json.RawMessage(input)})
		rep.answer += input
	}
	switch {
	case t.stop == stopMaxTokens:
		rep.stop = "max_tokens"
	case len(t.calls) > 0:
		rep.stop = "tool_use"
	default:
		rep.stop = "end_turn"
	}
	return rep
}

func (s *Server) anthropicMessage(req *Request, t Turn) (aMessage, Usage) {
	rep := s.renderAnthropic(t)
	u := estimate(t, req.Body, rep.answer)
	stop := rep.stop
	return aMessage{
		ID: s.newID("msg_"), Type: "message", Role: "assistant", Model: req.Model,
		Content: rep.blocks, StopReason: &stop,
		Usage: aUsage{InputTokens: u.Input, CacheCreationInputTokens: u.CacheWrite, CacheReadInputTokens: u.CacheRead, OutputTokens: u.Output},
	}, u
}
