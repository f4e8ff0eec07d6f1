package chat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// maxEvent caps one SSE event; a longer one is a malformed stream.
const maxEvent = 4 << 20

type oaChunk struct {
	Choices []struct {
		Index        int     `json:"index"`
		Delta        oaDelta `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type oaDelta struct {
	Content   *string      `json:"content"`
	ToolCalls []oaToolCall `json:"tool_calls"`
}

// readStream reads a Chat Completions SSE stream into a Response. The
// stream must end with data: [DONE] or at least carry a finish_reason.
func readStream(r io.Reader) (Response, error) {
	var res Response
	calls := map[int]*ToolCall{}
	finished, done := false, false
	err := sseEvents(r, func(data []byte) error {
		if bytes.Equal(data, []byte("[DONE]")) {
			done = true
			return nil
		}
		var c oaChunk
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("openai: malformed stream: %w (event %q)", err, clip(data))
		}
		if len(c.Error) > 0 && string(c.Error) != "null" {
			pe := &ProviderError{Provider: "openai"}
			pe.Type, pe.Message = openAIErrorBody(append(append([]byte(`{"error":`), c.Error...), '}'))
			return pe
		}
		if c.Usage != nil {
			res.InputTokens, res.OutputTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			if ch.Delta.Content != nil {
				res.Text += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				i := len(calls)
				if tc.Index != nil {
					i = *tc.Index
				}
				call := calls[i]
				if call == nil {
					call = &ToolCall{}
					calls[i] = call
				}
				if tc.ID != "" {
					call.ID = tc.ID
				}
				if tc.Function.Name != "" {
					call.Name = tc.Function.Name
				}
				call.Input = append(call.Input, tc.Function.Arguments...)
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				res.StopReason = *ch.FinishReason
				finished = true
			}
		}
		return nil
	}, func() bool { return done })
	if err != nil {
		return Response{}, err
	}
	if !done && !finished {
		return Response{}, errors.New("openai: malformed stream: it ended without a finish_reason or [DONE]")
	}
	idx := make([]int, 0, len(calls))
	for i := range calls {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		res.Calls = append(res.Calls, *calls[i])
	}
	return res, nil
}

// sseEvents calls fn with the data of each event of an SSE stream, until
// the stream ends, fn fails, or stop says so.
func sseEvents(r io.Reader, fn func(data []byte) error, stop func() bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEvent)
	var data []byte
	have := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if have {
				if err := fn(data); err != nil {
					return err
				}
				if stop() {
					return nil
				}
			}
			data, have = data[:0], false
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		if string(field) == "data" {
			if have {
				data = append(data, '\n')
			}
			data = append(data, value...)
			have = true
		}
		if len(data) > maxEvent {
			return errors.New("openai: malformed stream: event too large")
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("openai: reading stream: %w", err)
	}
	if have { // the last event had no blank line after it
		return fn(data)
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
