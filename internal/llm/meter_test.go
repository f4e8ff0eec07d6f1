package llm

import (
	"strings"
	"testing"
)

// feed writes s to m in pieces of n bytes and returns the report.
func feed(m meter, s string, n int) usageReport {
	for len(s) > 0 {
		k := min(n, len(s))
		_, _ = m.Write([]byte(s[:k]))
		s = s[k:]
	}
	return m.finish()
}

const anthropicStream = "event: message_start\n" +
	`data: {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":25,"cache_creation_input_tokens":3,"cache_read_input_tokens":100,"output_tokens":1}}}` + "\n\n" +
	": a comment\n\n" +
	"event: content_block_delta\n" +
	`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"the word \"usage\": 999"}}` + "\n\n" +
	"event: message_delta\n" +
	`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}` + "\n\n" +
	"event: message_stop\n" +
	`data: {"type":"message_stop"}` + "\n\n"

func TestSSEMeterAnthropic(t *testing.T) {
	want := Tokens{InputTokens: 25, OutputTokens: 15, CacheReadTokens: 100, CacheWriteTokens: 3}
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		stream := strings.ReplaceAll(anthropicStream, "\n", eol)
		for _, n := range []int{1, 2, 7, 64, len(stream)} {
			rep := feed(newSSEMeter(anthropicEvent), stream, n)
			if rep.tokens != want || rep.model != "claude-sonnet-4-5-20250929" || !rep.found {
				t.Fatalf("eol %q chunk %d: %+v", eol, n, rep)
			}
		}
	}
}

func TestSSEMeterAnthropicDeltaOverridesCumulatively(t *testing.T) {
	// Newer API versions repeat input counts in message_delta; they win.
	s := `data: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}` + "\n\n" +
		`data: {"type":"message_delta","usage":{"input_tokens":7,"output_tokens":2}}` + "\n\n" +
		`data: {"type":"message_delta","usage":{"output_tokens":9}}` + "\n\n" +
		`data: {"type":"error","error":{"type":"overloaded_error","message":"x"}}` + "\n\n"
	rep := feed(newSSEMeter(anthropicEvent), s, 3)
	if rep.tokens != (Tokens{InputTokens: 7, OutputTokens: 9}) || rep.streamError != "overloaded_error" {
		t.Fatalf("%+v", rep)
	}
}

func TestSSEMeterOpenAI(t *testing.T) {
	s := `data: {"id":"c","model":"gpt-4o-mini-2024-07-18","choices":[{"delta":{"content":"hi"}}],"usage":null}` + "\n\n" +
		`data: {"id":"c","model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":6,"prompt_tokens_details":{"cached_tokens":30}}}` + "\n\n" +
		"data: [DONE]\n\n"
	rep := feed(newSSEMeter(openAIChunk), s, 5)
	if rep.tokens != (Tokens{InputTokens: 10, OutputTokens: 6, CacheReadTokens: 30}) || rep.model != "gpt-4o-mini-2024-07-18" {
		t.Fatalf("%+v", rep)
	}
}

func TestSSEMeterMultiLineDataAndCutOffEvent(t *testing.T) {
	// Two data lines join with "\n" (valid JSON here); the last event has
	// no blank line because the stream was cut, and still counts.
	s := "data: {\"model\":\"m\",\ndata: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n" +
		`data: {"usage":{"prompt_tokens":8,"completion_tokens":9}}`
	rep := feed(newSSEMeter(openAIChunk), s, 4)
	if rep.tokens != (Tokens{InputTokens: 8, OutputTokens: 9}) || rep.model != "m" {
		t.Fatalf("%+v", rep)
	}
}

func TestSSEMeterSkipsOversizedLines(t *testing.T) {
	big := `data: {"usage":{"prompt_tokens":1000},"pad":"` + strings.Repeat("x", maxLineBytes) + `"}` + "\n\n"
	s := big + `data: {"usage":{"prompt_tokens":2,"completion_tokens":1}}` + "\n\n"
	rep := feed(newSSEMeter(openAIChunk), s, 4096)
	if rep.tokens.InputTokens != 2 {
		t.Fatalf("%+v", rep)
	}
}

func TestJSONAndNDJSONMeters(t *testing.T) {
	m := &jsonMeter{parse: anthropicMessage}
	rep := feed(m, `{"model":"claude-haiku-4-5","usage":{"input_tokens":4,"output_tokens":2}}`, 3)
	if rep.tokens != (Tokens{InputTokens: 4, OutputTokens: 2}) {
		t.Fatalf("%+v", rep)
	}
	rep = feed(&jsonMeter{parse: openAIMessage}, `{"usage":`, 3)
	if !rep.unreadable || rep.found {
		t.Fatalf("truncated JSON: %+v", rep)
	}
	rep = feed(newNDJSONMeter(ollamaLine), "{\"model\":\"llama3\",\"done\":false}\n\n{\"done\":true,\"prompt_eval_count\":5,\"eval_count\":6}", 2)
	if rep.tokens != (Tokens{InputTokens: 5, OutputTokens: 6}) || rep.model != "llama3" {
		t.Fatalf("%+v", rep)
	}
}

func TestMeterClampsHostileCounts(t *testing.T) {
	rep := feed(newSSEMeter(openAIChunk), `data: {"usage":{"prompt_tokens":-5,"completion_tokens":9223372036854775807}}`+"\n\n", 100)
	if rep.tokens.InputTokens != 0 || rep.tokens.OutputTokens != maxTokensPerField {
		t.Fatalf("%+v", rep)
	}
}

// FuzzSSEUsage feeds arbitrary provider streams to both SSE readers. The
// report must not depend on how the bytes were split, and counts must stay
// within bounds.
func FuzzSSEUsage(f *testing.F) {
	f.Add([]byte(anthropicStream), uint16(3))
	f.Add([]byte("data: {\"usage\":{\"prompt_tokens\":1}}\r\n\r\ndata: [DONE]\r"), uint16(1))
	f.Add([]byte("data:\ndata\n\n:\r\r\n\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":1e3}}\n\n"), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		n := int(split%512) + 1
		for _, parse := range []func(*usageState, []byte){anthropicEvent, openAIChunk} {
			whole := feed(newSSEMeter(parse), string(data), len(data)+1)
			parts := feed(newSSEMeter(parse), string(data), n)
			if whole != parts {
				t.Fatalf("split %d changed the result: %+v vs %+v", n, whole, parts)
			}
			for _, v := range []int64{whole.tokens.InputTokens, whole.tokens.OutputTokens, whole.tokens.CacheReadTokens, whole.tokens.CacheWriteTokens} {
				if v < 0 || v > maxTokensPerField {
					t.Fatalf("count %d out of bounds", v)
				}
			}
			if len(whole.model) > maxModelBytes || len(whole.streamError) > maxModelBytes {
				t.Fatalf("unbounded strings in %+v", whole)
			}
		}
		nd := feed(newNDJSONMeter(ollamaLine), string(data), n)
		if nd != feed(newNDJSONMeter(ollamaLine), string(data), len(data)+1) {
			t.Fatal("ndjson result depends on split")
		}
	})
}
