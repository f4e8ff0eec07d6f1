package llm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/llm"
)

func TestParseProviderKind(t *testing.T) {
	for in, want := range map[string]llm.Kind{
		"anthropic": llm.KindAnthropic, "claude": llm.KindAnthropic, "Claude": llm.KindAnthropic,
		"openai": llm.KindOpenAI, "ollama": llm.KindOllama, "custom": llm.KindCustom,
		"claude-personal": llm.KindClaudePersonal, "lm-studio": llm.KindLMStudio, "codex": llm.KindOpenAI,
	} {
		got, err := llm.ParseProviderKind(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "gemini", "lmstudio"} {
		_, err := llm.ParseProviderKind(in)
		if !errors.Is(err, llm.ErrUnknownProvider) || !strings.Contains(err.Error(), "anthropic, claude, claude-personal, codex, custom, lm-studio, ollama, openai") {
			t.Errorf("%q: %v", in, err)
		}
	}
	var k llm.Kind
	if err := k.UnmarshalText([]byte("claude")); err != nil || k != llm.KindAnthropic {
		t.Errorf("UnmarshalText: %v %v", k, err)
	}
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestNewGatewayResolvesKeys(t *testing.T) {
	cases := []struct {
		name    string
		p       llm.Provider
		vars    map[string]string
		wantErr []string // substrings; nil means success
		wantURL string
	}{
		{"anthropic default env", llm.Provider{Kind: llm.KindAnthropic}, map[string]string{"ANTHROPIC_API_KEY": "k"}, nil, "https://api.anthropic.com"},
		{"anthropic missing", llm.Provider{Kind: llm.KindAnthropic}, nil, []string{"ANTHROPIC_API_KEY", "empty or unset"}, ""},
		{"openai named env", llm.Provider{Kind: llm.KindOpenAI, APIKeyEnv: "MY_OAI"}, map[string]string{"MY_OAI": "k"}, nil, "https://api.openai.com"},
		{"openai blank", llm.Provider{Kind: llm.KindOpenAI}, map[string]string{"OPENAI_API_KEY": "  "}, []string{"OPENAI_API_KEY"}, ""},
		{"ollama needs none", llm.Provider{Kind: llm.KindOllama}, nil, nil, "http://127.0.0.1:11434"},
		{"lm-studio needs none", llm.Provider{Kind: llm.KindLMStudio}, nil, nil, "http://localhost:1234"},
		{"lm-studio /v1 base", llm.Provider{Kind: llm.KindLMStudio, BaseURL: "http://127.0.0.1:4321/v1/"}, nil, nil, "http://127.0.0.1:4321/v1/"},
		{"claude-personal needs a login", llm.Provider{Kind: llm.KindClaudePersonal}, nil, []string{"needs the host's Claude login"}, ""},
		{"custom needs url", llm.Provider{Kind: llm.KindCustom}, nil, []string{"base_url", "required for provider custom"}, ""},
		{"custom no key", llm.Provider{Kind: llm.KindCustom, BaseURL: "http://127.0.0.1:1234/"}, map[string]string{"ANTHROPIC_API_KEY": "k"}, nil, "http://127.0.0.1:1234/"},
		{"custom named key missing", llm.Provider{Kind: llm.KindCustom, BaseURL: "http://h", APIKeyEnv: "PROXY_KEY"}, nil, []string{"PROXY_KEY"}, ""},
		{"bad url and key", llm.Provider{Kind: llm.KindOpenAI, BaseURL: "file:///etc"}, nil, []string{"scheme \"file\"", "OPENAI_API_KEY"}, ""},
		{"unknown kind", llm.Provider{Kind: "gemini"}, nil, []string{"unknown llm provider"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gw, err := llm.NewGateway(tc.p, llm.Options{LookupEnv: env(tc.vars)})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := gw.Provider().BaseURL; got != tc.wantURL {
					t.Fatalf("base url %q, want %q", got, tc.wantURL)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	_, err := llm.NewGateway(llm.Provider{Kind: llm.KindAnthropic}, llm.Options{LookupEnv: env(nil)})
	if !errors.Is(err, llm.ErrMissingKey) {
		t.Fatalf("errors.Is(ErrMissingKey) false for %v", err)
	}
	_, err = llm.NewGateway(llm.Provider{Kind: llm.KindOllama}, llm.Options{LookupEnv: env(nil), MaxRequestBytes: -1, Prices: map[string]llm.Price{"m": {Input: -1}}})
	if !errors.Is(err, llm.ErrInvalid) || !strings.Contains(err.Error(), "negative price") || !strings.Contains(err.Error(), "max request bytes") {
		t.Fatalf("options not validated together: %v", err)
	}
}
