package llm

import (
	"bytes"
	"encoding/json"
)

// responsesUsage is the usage object of the Responses API: input_tokens is
// the whole prompt, cached tokens a part of it.
type responsesUsage struct {
	InputTokens        *int64 `json:"input_tokens"`
	OutputTokens       *int64 `json:"output_tokens"`
	InputTokensDetails *struct {
		CachedTokens *int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
}

func (s *usageState) responsesUsage(u *responsesUsage) {
	if u == nil {
		return
	}
	t := &s.report.tokens
	if u.InputTokens != nil {
		input := clampTokens(*u.InputTokens)
		var cached int64
		if d := u.InputTokensDetails; d != nil && d.CachedTokens != nil {
			cached = min(clampTokens(*d.CachedTokens), input)
		}
		t.InputTokens = input - cached
		t.CacheReadTokens = cached
		s.report.found = true
	}
	s.set(&t.OutputTokens, u.OutputTokens)
}

// responseObject is the part of a response object the gateway reads.
type responseObject struct {
	Model string          `json:"model"`
	Usage *responsesUsage `json:"usage"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// responsesEvent reads one SSE event of a streamed response. Usage comes
// once, in the response object of the final event: response.completed,
// response.incomplete (cut off, still billed) or response.failed.
// https://platform.openai.com/docs/api-reference/responses-streaming
func responsesEvent(s *usageState, data []byte) {
	if !bytes.Contains(data, []byte(`"response.`)) && !bytes.Contains(data, []byte(`"error"`)) {
		return
	}
	var ev struct {
		Type     string          `json:"type"`
		Response *responseObject `json:"response"`
		Code     string          `json:"code"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	switch ev.Type {
	case "response.created", "response.in_progress":
		if ev.Response != nil {
			s.setModel(ev.Response.Model)
		}
	case "response.completed", "response.incomplete", "response.failed":
		if r := ev.Response; r != nil {
			s.setModel(r.Model)
			s.responsesUsage(r.Usage)
			if ev.Type == "response.failed" {
				code := "response.failed"
				if r.Error != nil && r.Error.Code != "" {
					code = r.Error.Code
				}
				s.streamError(&errorType{Type: code})
			}
		}
	case "error":
		t := ev.Code
		if t == "" {
			t = "error"
		}
		s.streamError(&errorType{Type: t})
	}
}

// responsesMessage reads a non-streamed response object (or error) body.
func responsesMessage(s *usageState, body []byte) {
	var r responseObject
	if json.Unmarshal(body, &r) != nil {
		s.report.unreadable = true
		return
	}
	s.setModel(r.Model)
	s.responsesUsage(r.Usage)
}
