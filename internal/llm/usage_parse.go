package llm

import (
	"bytes"
	"encoding/json"
)

// usageState accumulates a usageReport across the events of one response.
// Providers repeat usage as running totals (Anthropic's message_delta counts
// are cumulative; OpenAI sends usage once), so a later value replaces an
// earlier one rather than adding to it.
type usageState struct {
	report usageReport
}

func (s *usageState) setModel(m string) {
	if m == "" {
		return
	}
	if len(m) > maxModelBytes {
		m = m[:maxModelBytes]
	}
	s.report.model = m
}

func (s *usageState) set(dst *int64, v *int64) {
	if v != nil {
		*dst = clampTokens(*v)
		s.report.found = true
	}
}

// anthropicUsage is the usage object of the Messages API.
type anthropicUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

func (s *usageState) anthropicUsage(u *anthropicUsage) {
	if u == nil {
		return
	}
	t := &s.report.tokens
	s.set(&t.InputTokens, u.InputTokens)
	s.set(&t.OutputTokens, u.OutputTokens)
	s.set(&t.CacheWriteTokens, u.CacheCreationInputTokens)
	s.set(&t.CacheReadTokens, u.CacheReadInputTokens)
}

type errorType struct {
	Type string `json:"type"`
}

// anthropicEvent reads one SSE data payload of a streamed Message: usage is
// in message_start.message.usage and (cumulatively) in message_delta.usage.
func anthropicEvent(s *usageState, data []byte) {
	if !bytes.Contains(data, []byte(`"usage"`)) && !bytes.Contains(data, []byte(`"error"`)) {
		return // content deltas: the bulk of the stream
	}
	var ev struct {
		Type    string `json:"type"`
		Message *struct {
			Model string          `json:"model"`
			Usage *anthropicUsage `json:"usage"`
		} `json:"message"`
		Usage *anthropicUsage `json:"usage"`
		Error *errorType      `json:"error"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	switch ev.Type {
	case "message_start":
		if ev.Message != nil {
			s.setModel(ev.Message.Model)
			s.anthropicUsage(ev.Message.Usage)
		}
	case "message_delta":
		s.anthropicUsage(ev.Usage)
	case "error":
		s.streamError(ev.Error)
	}
}

// anthropicMessage reads a non-streamed Message (or error) body.
func anthropicMessage(s *usageState, body []byte) {
	var m struct {
		Model string          `json:"model"`
		Usage *anthropicUsage `json:"usage"`
	}
	if json.Unmarshal(body, &m) != nil {
		s.report.unreadable = true
		return
	}
	s.setModel(m.Model)
	s.anthropicUsage(m.Usage)
}

// openAIUsage is the usage object of Chat Completions; cached prompt tokens
// are a subset of prompt_tokens.
type openAIUsage struct {
	PromptTokens        *int64 `json:"prompt_tokens"`
	CompletionTokens    *int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens *int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (s *usageState) openAIUsage(u *openAIUsage) {
	if u == nil {
		return
	}
	t := &s.report.tokens
	var cached int64
	if d := u.PromptTokensDetails; d != nil && d.CachedTokens != nil {
		cached = clampTokens(*d.CachedTokens)
	}
	if u.PromptTokens != nil {
		prompt := clampTokens(*u.PromptTokens)
		cached = min(cached, prompt)
		t.InputTokens = prompt - cached
		t.CacheReadTokens = cached
		s.report.found = true
	}
	s.set(&t.OutputTokens, u.CompletionTokens)
}

// openAIChunk reads one chat.completion.chunk, or a whole chat.completion:
// both carry model and (when present and non-null) usage at the top level.
func openAIChunk(s *usageState, data []byte) {
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		return
	}
	var c struct {
		Model string       `json:"model"`
		Usage *openAIUsage `json:"usage"`
		Error *errorType   `json:"error"`
	}
	if json.Unmarshal(data, &c) != nil {
		return
	}
	s.setModel(c.Model)
	s.openAIUsage(c.Usage)
	s.streamError(c.Error)
}

func openAIMessage(s *usageState, body []byte) {
	if !json.Valid(body) {
		s.report.unreadable = true
		return
	}
	openAIChunk(s, body)
}

// ollamaLine reads one line of Ollama's native /api/chat or /api/generate
// output; the final line (done: true) has the counts.
func ollamaLine(s *usageState, line []byte) {
	var l struct {
		Model           string `json:"model"`
		PromptEvalCount *int64 `json:"prompt_eval_count"`
		EvalCount       *int64 `json:"eval_count"`
	}
	if json.Unmarshal(line, &l) != nil {
		return
	}
	s.setModel(l.Model)
	s.set(&s.report.tokens.InputTokens, l.PromptEvalCount)
	s.set(&s.report.tokens.OutputTokens, l.EvalCount)
}

func (s *usageState) streamError(e *errorType) {
	if e == nil {
		return
	}
	t := e.Type
	if t == "" {
		t = "error"
	}
	if len(t) > maxModelBytes {
		t = t[:maxModelBytes]
	}
	s.report.streamError = t
}
