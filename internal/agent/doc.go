// Package agent is voidbox's built-in agent loop. It runs inside the guest
// as an ordinary process (uid 1000, in /workspace), started by the host
// through the guest's exec service as
//
//	/usr/lib/voidbox/voidbox-agent --config /run/voidbox/agent/config.json [--events-fd N]
//
// and reaches its model only through the in-guest endpoint that tunnels to
// the host's LLM gateway; the real API key never enters the guest.
//
// # Contract with the host
//
//   - Config: the JSON form of Config, strict (unknown fields fail).
//   - Events: one JSON object per line on stdout (or --events-fd N), types
//     and fields in package event, which the host decodes with event.Decode.
//     agent.finished is always the last line, on failure too. Nothing else
//     is written to stdout.
//   - stderr: one human-readable line when the run fails.
//   - Exit status: 0 done; 1 the run failed (provider error, max_turns,
//     MCP server that would not start, output not writable); 2 bad flags or
//     config; 128+n when stopped by signal n (SIGTERM, SIGINT).
//   - Output: the final answer is written verbatim to output_file unless
//     the model created or changed that file itself during the run. On
//     failure the output file is left as it is.
//
// # The loop
//
// System prompt (environment, tools, policy, skills index, how to finish)
// plus one user message (the prompt, and the input file inlined when it is
// UTF-8 and at most InlineInputLimit bytes, else a pointer to it). Each
// model response is streamed; its tool calls run one after another, each
// under tool_timeout, and their results go back in the next request. The
// run ends on a response without tool calls, on max_turns, or when ctx ends.
//
// Tools: bash (package shell: every external command is checked against
// allowed_commands when it executes, after expansion), read_file,
// write_file, edit_file, list_dir (package tools), and every tool of every
// MCP server as <server>__<tool> (package mcptools).
package agent
