package llm

import "time"

// Tokens counts one request's tokens. InputTokens excludes cached input, as
// in Anthropic's usage object; for OpenAI it is prompt_tokens minus
// prompt_tokens_details.cached_tokens. Input + CacheRead + CacheWrite is the
// whole prompt.
type Tokens struct {
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64 // prompt tokens served from the provider's cache
	CacheWriteTokens int64 // prompt tokens written to the cache (Anthropic)
}

func (t *Tokens) add(o Tokens) {
	t.InputTokens += o.InputTokens
	t.OutputTokens += o.OutputTokens
	t.CacheReadTokens += o.CacheReadTokens
	t.CacheWriteTokens += o.CacheWriteTokens
}

// Usage is a gateway's running total since it was created.
type Usage struct {
	// Requests counts requests forwarded to the provider, whatever their
	// outcome (an unreachable provider included). Requests the gateway
	// refused itself (404, 413, 400) are not counted; OnRequest sees them.
	Requests int64
	Tokens
	CostUSD float64
	// Unpriced counts forwarded requests whose cost is unknown: the model
	// had no price, or a successful answer carried no readable usage. They
	// add 0 to CostUSD, so CostUSD is a lower bound when Unpriced > 0.
	Unpriced int64
}

// RequestEvent describes one finished request. It never holds prompt or
// completion text, header values or the key.
type RequestEvent struct {
	Method string
	Path   string // as the guest sent it, truncated
	// Model is the model the provider reported, else the one requested.
	Model    string
	Status   int // status sent to the guest
	Duration time.Duration
	// Streamed: the response was an SSE or NDJSON stream.
	Streamed bool
	// Forwarded: the request reached (or was attempted to) the provider.
	Forwarded bool
	Tokens
	CostUSD float64
	// Priced is false when the cost is unknown (no price for the model, or
	// no readable usage in a successful answer); CostUSD is then 0.
	Priced bool
	// OverBudget: the gateway refused the request because the box's model
	// budget (Limits) was reached.
	OverBudget bool
	// Error says why the gateway refused the request, the provider could not
	// be reached, or the stream ended abnormally; empty on success.
	Error string
}

// maxTokensPerField bounds any single token count read from a response, so
// a hostile or broken endpoint cannot overflow the running totals.
const maxTokensPerField = 1 << 40

func clampTokens(v int64) int64 {
	if v < 0 {
		return 0
	}
	if v > maxTokensPerField {
		return maxTokensPerField
	}
	return v
}
