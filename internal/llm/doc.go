// Package llm is the host side of a box's LLM access: a per-box gateway
// that holds the provider key so the guest never does.
//
// Trust model. The guest VM is untrusted. Its agent talks to a local
// endpoint that is tunnelled over the VM's control channel to this
// package's Gateway, an http.Handler. Everything in a guest request is
// hostile input: the gateway matches method and path against a fixed
// allowlist per provider, drops credential-like and hop-by-hop headers,
// caps and parses the JSON body, adds the host's key and sends the request
// to the provider's configured BaseURL only. Responses stream back
// unbuffered, with token usage read on the way past.
//
// Decisions, and why:
//   - Provider.Model fills in a request that names no model but never
//     overrides one the agent chose (Claude Code uses a small model for side
//     tasks); accounting prices what actually ran.
//   - Streaming OpenAI-format requests are forwarded with
//     stream_options.include_usage = true, so every token is counted; the
//     client may see one extra usage-only chunk with empty choices.
//   - Unknown models are priced at 0 and flagged (RequestEvent.Priced,
//     Usage.Unpriced), so CostUSD is a lower bound whenever Unpriced > 0.
//     Ollama is always free.
//   - Provider openai's allowlist has POST /v1/responses, the Responses API
//     Codex CLI speaks: its usage is read from the final response object
//     (response.completed, .incomplete or .failed), nothing is injected.
//   - Ollama's allowlist also has POST /v1/messages: Ollama serves the
//     Anthropic Messages API, which is how Claude Code runs on local models.
//   - "custom" is an Anthropic-compatible endpoint with an explicit BaseURL;
//     it gets a key only if api_key_env names one, so the Anthropic key is
//     never sent to a third party by default.
//   - Provider error bodies (non-2xx, up to 1 MiB) and all response header
//     values are scrubbed of the key before the guest sees them. Successful
//     bodies are streamed untouched: a provider has no way to know the key
//     except by echoing it in an error.
//   - Redirects from the provider are passed back, never followed.
package llm
