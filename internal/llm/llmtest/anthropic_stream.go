package llmtest

import (
	"encoding/json"
	"net/http"
)

// streamAnthropic writes a turn as the Messages API's SSE event sequence:
// message_start, ping, per block content_block_start / content_block_delta
// (text_delta or input_json_delta) / content_block_stop, then
// message_delta (stop_reason, cumulative usage) and message_stop.
func (s *Server) streamAnthropic(w http.ResponseWriter, r *http.Request, req *Request, t Turn) Usage {
	rep := s.renderAnthropic(t)
	u := estimate(t, req.Body, rep.answer)
	// reported is what the client has been told so far: message_start
	// carries the prompt counts and output_tokens 1, message_delta the rest.
	reported := u
	reported.Output = 1
	sse := newSSE(w, r, t.pause)
	start := aMessage{
		ID: s.newID("msg_"), Type: "message", Role: "assistant", Model: req.Model,
		Content: []aBlock{},
		Usage:   aUsage{InputTokens: u.Input, CacheCreationInputTokens: u.CacheWrite, CacheReadInputTokens: u.CacheRead, OutputTokens: 1},
	}
	if !sse.event("message_start", map[string]any{"type": "message_start", "message": start}) {
		return reported
	}
	switch t.kind {
	case kindMalformed:
		sse.garbage("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"te\n\n")
		return reported
	case kindStreamError:
		sse.event("error", map[string]any{"type": "error", "error": map[string]string{"type": t.errType, "message": t.errMsg}})
		return reported
	}
	if !sse.event("ping", map[string]string{"type": "ping"}) {
		return reported
	}
	for idx, b := range rep.blocks {
		if !streamBlock(sse, idx, b) {
			return reported
		}
	}
	delta := map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": rep.stop, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": u.Output},
	}
	if !sse.event("message_delta", delta) {
		return reported
	}
	sse.event("message_stop", map[string]string{"type": "message_stop"})
	return u
}

// streamBlock sends one content block as start, deltas and stop.
func streamBlock(sse *sseWriter, idx int, b aBlock) bool {
	startBlock := b
	var deltas []map[string]any
	if b.Type == "text" {
		empty := ""
		startBlock.Text = &empty
		for _, c := range chunks(*b.Text, 12) {
			deltas = append(deltas, map[string]any{"type": "text_delta", "text": c})
		}
	} else {
		startBlock.Input = json.RawMessage("{}")
		// The API opens with an empty partial_json before the pieces.
		deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": ""})
		for _, c := range chunks(string(b.Input), 10) {
			deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": c})
		}
	}
	if !sse.event("content_block_start", map[string]any{"type": "content_block_start", "index": idx, "content_block": startBlock}) {
		return false
	}
	for _, d := range deltas {
		if !sse.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": idx, "delta": d}) {
			return false
		}
	}
	return sse.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": idx})
}
