// Package execjson turns the stdout of `codex exec --json` (OpenAI's Codex
// CLI) into voidbox's agent events, the same ones the built-in agent and
// Claude Code stages emit.
//
// Codex prints one JSON object per line (checked against 0.171.0):
//
//	{"type":"thread.started","thread_id":"…"}
//	{"type":"turn.started"}
//	{"type":"item.started","item":{"id":"item_2","type":"command_execution","command":"…","status":"in_progress"}}
//	{"type":"item.completed","item":{"id":"item_2","type":"command_execution","aggregated_output":"…","exit_code":0,"status":"completed"}}
//	{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"…"}}
//	{"type":"turn.completed","usage":{"input_tokens":…,"cached_input_tokens":…,"output_tokens":…}}
//
// with "turn.failed" ({"error":{"message"}}) instead of turn.completed when
// the run fails, top-level "error" lines for notices such as reconnects, and
// items of type "error" for warnings. Item types: agent_message, reasoning,
// command_execution, file_change, mcp_tool_call, web_search, todo_list,
// collab_tool_call, error.
//
// A Codex "turn" is a whole prompt; voidbox's agent.turn is one model
// response. The JSON does not mark responses, so the parser infers them: a
// response ends when its tool calls have all completed and another item
// arrives (the model's next answer). Codex reports usage per prompt turn
// only, so those tokens go to the last response of the turn; the gateway's
// llm.request events carry exact per-request counts. input_tokens includes
// cached tokens; voidbox's input tokens exclude them (Result.CachedInputTokens).
//
// The stream comes from inside the VM and is untrusted: lines are capped
// (MaxLine), every field is decoded into a fixed struct, numbers are
// clamped, strings truncated, the set of open tool calls is bounded, and
// nothing here panics on any input (FuzzParseStream).
package execjson
