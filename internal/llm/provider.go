package llm

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnknownProvider: a provider name that voidbox does not speak.
	ErrUnknownProvider = errors.New("unknown llm provider")
	// ErrMissingKey: the provider needs a key and the host has none.
	ErrMissingKey = errors.New("api key not set")
	// ErrInvalid: a provider or gateway option has an unusable value.
	ErrInvalid = errors.New("invalid llm configuration")
)

// Kind is the provider a box talks to. It decides the endpoint allowlist,
// how the credential is attached and which error and usage formats apply.
type Kind string

const (
	KindAnthropic Kind = "anthropic"
	KindOpenAI    Kind = "openai"
	KindOllama    Kind = "ollama"
	// KindCustom is any Anthropic-compatible Messages API at an explicit
	// BaseURL (an LLM proxy, LM Studio, a self-hosted router).
	KindCustom Kind = "custom"
	// KindClaudePersonal is Anthropic's Messages API reached with the host
	// user's Claude subscription login (an OAuth bearer token from
	// Provider.Token) instead of an API key.
	KindClaudePersonal Kind = "claude-personal"
	// KindLMStudio is LM Studio's local server: OpenAI-compatible, and its
	// Anthropic-compatible /v1/messages for Claude Code. No key by default.
	KindLMStudio Kind = "lm-studio"
	// KindChatGPT is the Responses API of ChatGPT's Codex backend, reached
	// with the host user's ChatGPT login from the Codex CLI (Provider.Token,
	// an AccountSource). No spec names it: a codex stage on a host without
	// an OpenAI API key uses it when `codex login` was done there.
	KindChatGPT Kind = "chatgpt"
)

// providerNames maps every accepted spelling to its Kind. "claude" is the
// seed's name for the Anthropic API, "codex" its name for the OpenAI API as
// the Codex CLI uses it (which runtime runs is the stage's business).
var providerNames = map[string]Kind{
	"anthropic":       KindAnthropic,
	"claude":          KindAnthropic,
	"openai":          KindOpenAI,
	"codex":           KindOpenAI, // the seed's name for OpenAI through the Codex CLI
	"ollama":          KindOllama,
	"custom":          KindCustom,
	"claude-personal": KindClaudePersonal,
	"lm-studio":       KindLMStudio,
}

const validProviderNames = "anthropic, claude, claude-personal, codex, custom, lm-studio, ollama, openai"

// ParseProviderKind maps a spec's provider name to a Kind. Unknown names are
// an error listing the valid ones (the seed silently fell back to Claude).
func ParseProviderKind(name string) (Kind, error) {
	if k, ok := providerNames[strings.ToLower(strings.TrimSpace(name))]; ok {
		return k, nil
	}
	return "", fmt.Errorf("%w %q (valid: %s)", ErrUnknownProvider, name, validProviderNames)
}

// UnmarshalText lets a Kind be decoded straight from a spec field.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseProviderKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

func (k Kind) String() string { return string(k) }

// local reports a model server on the user's own machine: free, no key.
func (k Kind) local() bool { return k == KindOllama || k == KindLMStudio }

// wire is the API dialect a Kind speaks by default.
func (k Kind) wire() apiFormat {
	switch k {
	case KindOpenAI, KindLMStudio, KindChatGPT:
		return formatOpenAI
	case KindOllama:
		return formatOllama
	}
	return formatAnthropic
}

// Provider is the host-side configuration of one box's LLM. The zero values
// of BaseURL, APIKeyEnv and Model are replaced by per-Kind defaults.
type Provider struct {
	Kind Kind
	// BaseURL is the only place the gateway ever sends requests. Defaults:
	// anthropic https://api.anthropic.com, openai https://api.openai.com,
	// ollama http://127.0.0.1:11434; custom has none and must set it.
	BaseURL string
	// APIKeyEnv names the host environment variable holding the key.
	// Defaults: ANTHROPIC_API_KEY (anthropic), OPENAI_API_KEY (openai). For
	// ollama and custom there is no default: no key is sent unless one is
	// named, so a custom endpoint never receives the Anthropic key by accident.
	APIKeyEnv string
	// APIKey, when set, is used instead of reading APIKeyEnv (library use).
	APIKey Secret
	// Token supplies the bearer token of KindClaudePersonal (required for
	// it, refused for the others); it is asked on every request, so it can
	// refresh an expiring login.
	Token TokenSource
	// Model fills in the "model" field of a request that names none. A
	// request that names a model keeps it: agents such as Claude Code use a
	// small model for side tasks, and accounting prices whatever ran.
	Model string
}

// Default base URLs and key variables per Kind.
var (
	defaultBaseURL = map[Kind]string{
		KindAnthropic: "https://api.anthropic.com",
		KindOpenAI:    "https://api.openai.com",
		KindOllama:    "http://127.0.0.1:11434",
		// LM Studio's server listens on localhost:1234 by default.
		KindLMStudio:       "http://localhost:1234",
		KindClaudePersonal: "https://api.anthropic.com",
		KindChatGPT:        "https://chatgpt.com/backend-api/codex",
	}
	defaultKeyEnv = map[Kind]string{
		KindAnthropic: "ANTHROPIC_API_KEY",
		KindOpenAI:    "OPENAI_API_KEY",
	}
)

// resolved is a Provider after defaults, key lookup and URL parsing.
type resolved struct {
	Provider
	base *url.URL
}

// resolve applies defaults, reads the key through lookup (os.LookupEnv when
// nil) and validates everything, reporting all problems at once.
func (p Provider) resolve(lookup func(string) (string, bool)) (resolved, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs []error
	login := p.Kind == KindClaudePersonal || p.Kind == KindChatGPT
	if login && p.Token == nil {
		whose := map[Kind]string{KindClaudePersonal: "Claude", KindChatGPT: "ChatGPT"}[p.Kind]
		errs = append(errs, fmt.Errorf("token: %w: provider %s needs the host's %s login", ErrInvalid, p.Kind, whose))
	}
	if _, ok := p.Token.(AccountSource); p.Kind == KindChatGPT && p.Token != nil && !ok {
		errs = append(errs, fmt.Errorf("token: %w: provider chatgpt needs a login that names its account", ErrInvalid))
	}
	if !login && p.Token != nil {
		errs = append(errs, fmt.Errorf("token: %w: only providers claude-personal and chatgpt use a login token", ErrInvalid))
	}
	if login && (p.APIKeyEnv != "" || !p.APIKey.Empty()) {
		errs = append(errs, fmt.Errorf("api key: %w: provider %s uses the host's login, not an API key", ErrInvalid, p.Kind))
	}
	if _, ok := defaultBaseURL[p.Kind]; !ok && p.Kind != KindCustom {
		errs = append(errs, fmt.Errorf("kind: %w %q (valid: %s)", ErrUnknownProvider, p.Kind, validProviderNames))
	}
	if p.BaseURL == "" {
		p.BaseURL = defaultBaseURL[p.Kind]
	}
	var base *url.URL
	if p.BaseURL == "" && p.Kind == KindCustom {
		errs = append(errs, fmt.Errorf("base_url: %w: required for provider custom", ErrInvalid))
	} else if p.BaseURL != "" {
		u, err := parseBaseURL(p.BaseURL)
		if err != nil {
			errs = append(errs, fmt.Errorf("base_url: %w", err))
		}
		if u != nil && p.Kind == KindLMStudio {
			// LM Studio's documented base URL ends in /v1; the gateway adds
			// the /v1/... paths itself.
			u.Path = strings.TrimSuffix(u.Path, "/v1")
		}
		base = u
	}
	if p.APIKeyEnv == "" {
		p.APIKeyEnv = defaultKeyEnv[p.Kind]
	}
	if p.APIKey.Empty() && p.APIKeyEnv != "" {
		v, _ := lookup(p.APIKeyEnv)
		if v = strings.TrimSpace(v); v == "" {
			errs = append(errs, fmt.Errorf("api key: %w: environment variable %s is empty or unset", ErrMissingKey, p.APIKeyEnv))
		}
		p.APIKey = Secret(v)
	}
	if err := errors.Join(errs...); err != nil {
		return resolved{}, fmt.Errorf("llm provider %s: %w", p.Kind, err)
	}
	return resolved{Provider: p, base: base}, nil
}

// parseBaseURL accepts an absolute http(s) URL with no credentials, query or
// fragment: a key belongs in APIKeyEnv, and the gateway appends only paths.
// Errors never repeat the URL, which may hold a credential.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the raw URL, which may hold credentials.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%w: unparsable URL: %w", ErrInvalid, err)
	}
	var errs []error
	if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("%w: scheme %q is not http or https", ErrInvalid, u.Scheme))
	}
	if u.Host == "" {
		errs = append(errs, fmt.Errorf("%w: no host", ErrInvalid))
	}
	if u.User != nil {
		errs = append(errs, fmt.Errorf("%w: credentials in the URL (name the key's variable in api_key_env instead)", ErrInvalid))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("%w: query or fragment not allowed", ErrInvalid))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// DefaultKeyEnv is the host variable a provider kind reads its key from when
// the spec names none ("" for kinds without a key).
func DefaultKeyEnv(k Kind) string { return defaultKeyEnv[k] }

// TokenSource hands out the current bearer token of a login, refreshing it
// when needed. It must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// AccountSource is a TokenSource whose login acts for an account that each
// request must name (ChatGPT's, as ChatGPT-Account-Id); Account is read
// after Token, so it is the refreshed login's.
type AccountSource interface {
	TokenSource
	Account() string
}
