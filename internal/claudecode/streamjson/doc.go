// Package streamjson turns the stdout of `claude -p --output-format
// stream-json --verbose` into voidbox's agent events (package
// internal/agent/event), the same events the built-in agent emits, so a
// claude-code stage reports like any other agent stage.
//
// claude-code prints one JSON object per line:
//
//	{"type":"system","subtype":"init","model":…,"tools":[…],"skills":[…],…}
//	{"type":"assistant","message":{"id":…,"content":[{"type":"tool_use",…}],"usage":{…}},…}
//	{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":…,"is_error":…}]},…}
//	{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":…,"usage":{…},"result":"…"}
//
// and, besides those, system lines such as api_retry that are counted but
// produce no event. Each assistant line holds ONE content block; the blocks
// of one API response share message.id, so a turn is a run of assistant
// lines with the same id. Its agent.turn event goes out at its first
// tool_use block (tools run before the next line), else when the next
// line shows the response complete. claude-code prints each block before
// the API reports the response's final usage: a turn's input tokens are
// exact, its output tokens are what was known then (often 1); the
// agent.finished totals come from the result line and are exact.
//
// The stream comes from inside the VM and is untrusted: lines are capped
// (MaxLine), every field is decoded into a fixed struct, numbers are
// clamped, strings truncated, the set of open tool calls is bounded, and
// nothing here panics on any input (FuzzParseStream).
//
// What claude-code reports beyond the event model (cost, session, cache
// tokens, the skills it loaded, API retries) is kept in Result, which the
// caller reads after the stream ends.
package streamjson
