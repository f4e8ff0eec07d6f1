package llm

import "net/http"

// apiFormat is a wire dialect: it decides the error body shape and how usage
// is read from a response.
type apiFormat int

const (
	formatAnthropic apiFormat = iota // Messages API
	formatOpenAI                     // Chat Completions API
	formatOllama                     // Ollama's native /api/*
	// formatResponses is OpenAI's Responses API (Codex CLI's): OpenAI's
	// error bodies, typed SSE events, usage in the final response object.
	formatResponses
)

// usageKind says whether and how an endpoint's responses carry token usage.
type usageKind int

const (
	usageNone usageKind = iota // listings, token counting: nothing billed
	usageGenerate
)

// endpoint is one allowlisted method+path. path is a constant of ours: the
// guest's path is only ever compared with it, never forwarded.
type endpoint struct {
	method string
	path   string
	format apiFormat
	usage  usageKind
	// streamDefault is what an absent "stream" field means (Ollama's native
	// API streams unless told not to).
	streamDefault bool
}

// allowlist is every endpoint a box may call, per Kind. Anything else is a
// 404 without touching the upstream.
//
// Ollama also gets POST /v1/messages: Ollama ≥ 0.14 serves the Anthropic
// Messages API, which is how Claude Code runs against a local model.
var allowlist = map[Kind][]endpoint{
	KindAnthropic:      anthropicEndpoints,
	KindCustom:         anthropicEndpoints,
	KindClaudePersonal: anthropicEndpoints,
	KindLMStudio: {
		{method: http.MethodPost, path: "/v1/chat/completions", format: formatOpenAI, usage: usageGenerate},
		{method: http.MethodGet, path: "/v1/models", format: formatOpenAI},
		{method: http.MethodPost, path: "/v1/messages", format: formatAnthropic, usage: usageGenerate},
	},
	KindOpenAI: {
		{method: http.MethodPost, path: "/v1/chat/completions", format: formatOpenAI, usage: usageGenerate},
		{method: http.MethodPost, path: "/v1/responses", format: formatResponses, usage: usageGenerate},
		{method: http.MethodGet, path: "/v1/models", format: formatOpenAI},
	},
	// ChatGPT's Codex backend: the Responses API and the model list the
	// Codex CLI reads in that mode (checked against 0.171.0 with a fake).
	KindChatGPT: {
		{method: http.MethodPost, path: "/responses", format: formatResponses, usage: usageGenerate},
		{method: http.MethodGet, path: "/models", format: formatOpenAI},
	},
	KindOllama: {
		{method: http.MethodPost, path: "/api/chat", format: formatOllama, usage: usageGenerate, streamDefault: true},
		{method: http.MethodPost, path: "/api/generate", format: formatOllama, usage: usageGenerate, streamDefault: true},
		{method: http.MethodGet, path: "/api/tags", format: formatOllama},
		{method: http.MethodPost, path: "/v1/chat/completions", format: formatOpenAI, usage: usageGenerate},
		{method: http.MethodPost, path: "/v1/messages", format: formatAnthropic, usage: usageGenerate},
	},
}

var anthropicEndpoints = []endpoint{
	{method: http.MethodPost, path: "/v1/messages", format: formatAnthropic, usage: usageGenerate},
	{method: http.MethodPost, path: "/v1/messages/count_tokens", format: formatAnthropic},
}

// lookupEndpoint matches method and path exactly: no prefix matching, no
// cleaning, so "/v1/messages/../x" or "//host/v1/messages" never match.
func lookupEndpoint(k Kind, method, path string) (endpoint, bool) {
	for _, ep := range allowlist[k] {
		if ep.method == method && ep.path == path {
			return ep, true
		}
	}
	return endpoint{}, false
}
