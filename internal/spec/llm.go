package spec

import (
	"math"
	"strings"
)

// Provider is the LLM API a box talks to through the host gateway.
type Provider string

const (
	// ProviderClaude is Anthropic's Messages API. "anthropic" is an alias.
	ProviderClaude Provider = "claude"
	// ProviderOpenAI is the OpenAI chat API (or a compatible base_url).
	ProviderOpenAI Provider = "openai"
	// ProviderOllama is an Ollama server.
	ProviderOllama Provider = "ollama"
	// ProviderCustom is any Anthropic-compatible endpoint; it needs BaseURL.
	ProviderCustom Provider = "custom"
	// ProviderClaudePersonal is Anthropic's API with the host user's Claude
	// subscription login (Claude Code's), which stays on the host.
	ProviderClaudePersonal Provider = "claude-personal"
	// ProviderLMStudio is LM Studio's local server (OpenAI-compatible).
	ProviderLMStudio Provider = "lm-studio"
	// ProviderCodex is the OpenAI API as the Codex CLI uses it (the seed's
	// provider: codex): the box runs runtime codex.
	ProviderCodex Provider = "codex"
)

// DefaultProvider is the provider of a spec that names none.
const DefaultProvider = ProviderClaude

const validProviders = "claude, anthropic, claude-personal, openai, codex, ollama, lm-studio, custom"

// LLM says which model a box uses. The provider's key never enters the
// guest: the host gateway reads it from APIKeyEnv and adds it to requests.
type LLM struct {
	Provider Provider
	// Model is "" for the provider's default model.
	Model string
	// BaseURL is "" for the provider's default endpoint; required for
	// ProviderCustom. Always an http(s) URL without credentials.
	BaseURL string
	// APIKeyEnv names the host environment variable holding the key; "" for
	// the provider's usual variable (such as ANTHROPIC_API_KEY).
	APIKeyEnv string
	// Limits is the box's model budget over all its attempts; zero fields
	// are no limit.
	Limits LLMLimits
	// Pos is where the block that last set these values is (a box's llm
	// override, or the top-level llm block); zero when all are defaults.
	Pos Pos
	// explicit: a block named the provider (else it is DefaultProvider).
	explicit bool
}

// LLMLimits caps a box's model use (llm.limits), enforced by the host
// gateway: the request that finds a limit reached gets a 429 and the stage
// fails with the reason. Zero: no limit.
type LLMLimits struct {
	MaxRequests     int64
	MaxInputTokens  int64 // the whole prompt: input, cache reads, cache writes
	MaxOutputTokens int64
	MaxCostUSD      float64
}

// limitsDecl is an llm.limits block as written: nil fields were not given.
type limitsDecl struct {
	maxRequests, maxInput, maxOutput *int64
	maxCost                          *float64
}

// maxLimit bounds integer limits (2^53: exact in JSON numbers).
const maxLimit = 1 << 53

func (d *decoder) limitsDecl(n *yamlNode, path string) *limitsDecl {
	f := d.mapping(n, path, &llmLimitsObject)
	if f == nil {
		return nil
	}
	l := &limitsDecl{}
	for _, x := range []struct {
		key string
		dst **int64
	}{{"max_requests", &l.maxRequests}, {"max_input_tokens", &l.maxInput}, {"max_output_tokens", &l.maxOutput}} {
		if v, ok := f.integer(x.key, 0, maxLimit); ok {
			*x.dst = ptr(int64(v))
		}
	}
	if vn, vpath, ok := f.get("max_cost_usd"); ok {
		if v, ok := d.number(vn, vpath, 0, math.MaxFloat64); ok {
			l.maxCost = ptr(v)
		}
	}
	return l
}

// over returns base with o's fields on top.
func (base *limitsDecl) over(o *limitsDecl) *limitsDecl {
	switch {
	case o == nil:
		return base
	case base == nil:
		return o
	}
	return &limitsDecl{maxRequests: or(o.maxRequests, base.maxRequests), maxInput: or(o.maxInput, base.maxInput),
		maxOutput: or(o.maxOutput, base.maxOutput), maxCost: or(o.maxCost, base.maxCost)}
}

func (l *limitsDecl) limits() LLMLimits {
	if l == nil {
		return LLMLimits{}
	}
	return LLMLimits{MaxRequests: deref(l.maxRequests), MaxInputTokens: deref(l.maxInput),
		MaxOutputTokens: deref(l.maxOutput), MaxCostUSD: deref(l.maxCost)}
}

// llmDecl is an llm block as written: nil fields were not given. Box blocks
// are merged over the top-level one before defaults are applied.
type llmDecl struct {
	node                      *yamlNode
	path                      string
	provider                  *Provider
	model, baseURL, apiKeyEnv *string
	limits                    *limitsDecl
}

// llmDecl decodes an llm block.
func (d *decoder) llmDecl(n *yamlNode, path string) *llmDecl {
	f := d.mapping(n, path, &llmObject)
	if f == nil {
		return nil
	}
	l := &llmDecl{node: f.node, path: path}
	if v, ok := f.str("provider"); ok {
		vn, vpath := f.m["provider"].val, join(path, "provider")
		switch p := Provider(strings.TrimSpace(v)); p {
		case ProviderClaude, "anthropic":
			l.provider = ptr(ProviderClaude)
		case ProviderOpenAI, ProviderOllama, ProviderCustom, ProviderClaudePersonal, ProviderLMStudio, ProviderCodex:
			l.provider = ptr(p)
		default:
			d.at(vn, vpath, "unknown provider %q (valid: %s)", v, validProviders)
		}
	}
	if v, ok := f.str("model"); ok {
		l.model = ptr(v)
	}
	if v, ok := f.str("base_url"); ok {
		if err := checkHTTPURL(v); err != nil {
			d.at(f.m["base_url"].val, join(path, "base_url"), "%v", err)
		}
		l.baseURL = ptr(v)
	}
	if v, ok := f.str("api_key_env"); ok {
		if err := checkEnvName(v); err != nil {
			d.at(f.m["api_key_env"].val, join(path, "api_key_env"), "%v", err)
		}
		l.apiKeyEnv = ptr(v)
	}
	if vn, vpath, ok := f.get("limits"); ok {
		l.limits = d.limitsDecl(vn, vpath)
	}
	if v, ok := f.boolean("credential_proxy"); ok {
		n, p := f.m["credential_proxy"].val, join(path, "credential_proxy")
		if v {
			d.note(n, p, "true is what voidbox always does: its LLM gateway adds the provider key on the host, and the key never enters the guest")
		} else {
			d.at(n, p, "false would put the provider key inside the guest; voidbox never does (its gateway adds the key on the host)")
		}
	}
	return l
}

// over returns base with o's fields on top. A block that names a different
// provider starts afresh: the base's model, URL and key variable belong to
// the base's provider and would be wrong for another one.
func (base *llmDecl) over(o *llmDecl) *llmDecl {
	switch {
	case o == nil:
		return base
	case base == nil:
		return o
	case o.provider != nil && *o.provider != base.providerOrDefault():
		// The budget is the box's, whatever its provider: it carries over.
		out := *o
		out.limits = base.limits.over(o.limits)
		return &out
	}
	out := *o
	out.provider = or(o.provider, base.provider)
	out.model = or(o.model, base.model)
	out.baseURL = or(o.baseURL, base.baseURL)
	out.apiKeyEnv = or(o.apiKeyEnv, base.apiKeyEnv)
	out.limits = base.limits.over(o.limits)
	return &out
}

func (l *llmDecl) providerOrDefault() Provider {
	if l == nil || l.provider == nil {
		return DefaultProvider
	}
	return *l.provider
}

// llm applies defaults and checks the combination; problems are reported
// at the block only when report is set, so that a top-level problem is not
// repeated for every box that inherits it.
func (d *decoder) llm(l *llmDecl, report bool) LLM {
	out := LLM{Provider: l.providerOrDefault()}
	if l == nil {
		return out
	}
	out.Pos = d.pos(l.node)
	out.explicit = l.provider != nil
	out.Model = deref(l.model)
	out.BaseURL = deref(l.baseURL)
	out.APIKeyEnv = deref(l.apiKeyEnv)
	out.Limits = l.limits.limits()
	if report && out.Provider == ProviderCustom && l.baseURL == nil {
		d.at(l.node, l.path, "provider custom (an Anthropic-compatible endpoint) needs base_url")
	}
	if report && out.Provider == ProviderClaudePersonal && l.apiKeyEnv != nil {
		d.at(l.node, join(l.path, "api_key_env"), "provider claude-personal uses the host's Claude login (~/.claude/.credentials.json or CLAUDE_CODE_OAUTH_TOKEN), not an API key")
	}
	if report && out.Provider == ProviderLMStudio && l.model == nil {
		d.at(l.node, l.path, "provider lm-studio needs model: the name LM Studio shows for the model it has loaded")
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func or[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
