package llmtest

import "net/http"

// streamResponses writes a turn as the Responses API's typed SSE events:
// response.created and response.in_progress; per output item
// response.output_item.added, its deltas (output_text.delta inside a
// content part, or function_call_arguments.delta) and
// response.output_item.done; then response.completed (or
// response.incomplete) carrying the whole output and the usage. Every
// event has an "event:" line naming its type and a sequence_number.
func (s *Server) streamResponses(w http.ResponseWriter, r *http.Request, req *Request, t Turn) Usage {
	rep := s.renderResponses(t)
	u := estimate(t, req.Body, rep.answer)
	sse := newSSE(w, r, t.pause)
	seq := 0
	send := func(typ string, fields map[string]any) bool {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		return sse.event(typ, fields)
	}
	if !send("response.created", map[string]any{"response": rep.response(req, "in_progress", u)}) ||
		!send("response.in_progress", map[string]any{"response": rep.response(req, "in_progress", u)}) {
		return Usage{}
	}
	switch t.kind {
	case kindMalformed:
		sse.garbage("event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"item\":{\"type\":\n\n")
		return Usage{}
	case kindStreamError:
		failed := rep.response(req, "failed", u)
		failed["error"] = map[string]any{"code": t.errType, "message": t.errMsg}
		send("response.failed", map[string]any{"response": failed})
		return Usage{}
	}
	for i, item := range rep.items {
		if !s.streamItem(send, i, item, rep.texts[i]) {
			return Usage{}
		}
	}
	final := "response.completed"
	if rep.maxed {
		final = "response.incomplete"
	}
	if !send(final, map[string]any{"response": rep.response(req, "", u)}) {
		return Usage{}
	}
	return u
}

// streamItem sends one output item: added (empty), its deltas, done (whole).
func (s *Server) streamItem(send func(string, map[string]any) bool, index int, item map[string]any, text string) bool {
	id := item["id"]
	added := map[string]any{}
	for k, v := range item {
		added[k] = v
	}
	added["status"] = "in_progress"
	if item["type"] == "message" {
		added["content"] = []any{}
	} else {
		added["arguments"] = ""
	}
	if !send("response.output_item.added", map[string]any{"output_index": index, "item": added}) {
		return false
	}
	if item["type"] == "message" {
		part := map[string]any{"type": "output_text", "text": "", "annotations": []any{}, "logprobs": []any{}}
		if !send("response.content_part.added", map[string]any{"item_id": id, "output_index": index, "content_index": 0, "part": part}) {
			return false
		}
		for _, c := range chunks(text, 12) {
			if !send("response.output_text.delta", map[string]any{"item_id": id, "output_index": index, "content_index": 0, "delta": c, "logprobs": []any{}}) {
				return false
			}
		}
		done := map[string]any{"type": "output_text", "text": text, "annotations": []any{}, "logprobs": []any{}}
		if !send("response.output_text.done", map[string]any{"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []any{}}) ||
			!send("response.content_part.done", map[string]any{"item_id": id, "output_index": index, "content_index": 0, "part": done}) {
			return false
		}
	} else {
		for _, c := range chunks(text, 10) {
			if !send("response.function_call_arguments.delta", map[string]any{"item_id": id, "output_index": index, "delta": c}) {
				return false
			}
		}
		if !send("response.function_call_arguments.done", map[string]any{"item_id": id, "output_index": index, "arguments": text}) {
			return false
		}
	}
	return send("response.output_item.done", map[string]any{"output_index": index, "item": item})
}
