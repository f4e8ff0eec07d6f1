package codex

import (
	"encoding/base64"
	"encoding/json"
	"path"
	"time"
)

// Placeholders of a guest's ChatGPT login: worth nothing outside the VM, the
// gateway replaces them with the host's login.
const (
	PlaceholderAccount = "voidbox-placeholder-account"
	placeholderRefresh = "voidbox-placeholder-refresh"
)

// AuthPath is where PlaceholderAuth goes: $CODEX_HOME/auth.json.
func (c Config) AuthPath() string { return path.Join(c.home(), ".codex", "auth.json") }

// PlaceholderAuth is the guest's auth.json in ChatGPT mode: the shape `codex
// login` writes, with unsigned tokens that say what Codex reads from them
// (an account, a plan, an expiry ten years out so that it never refreshes)
// and nothing of the host's login.
func PlaceholderAuth(now time.Time) []byte {
	jwt := func(claims map[string]any) string {
		seg := func(v any) string {
			b, _ := json.Marshal(v) // maps of strings and numbers always marshal
			return base64.RawURLEncoding.EncodeToString(b)
		}
		return seg(map[string]string{"alg": "none", "typ": "JWT"}) + "." + seg(claims) + ".placeholder"
	}
	exp := now.AddDate(10, 0, 0).Unix()
	auth := map[string]any{"chatgpt_account_id": PlaceholderAccount, "chatgpt_plan_type": "plus"}
	b, _ := json.MarshalIndent(map[string]any{
		"OPENAI_API_KEY": nil,
		"tokens": map[string]string{
			"id_token":      jwt(map[string]any{"email": "sandbox@voidbox.invalid", "exp": exp, "https://api.openai.com/auth": auth}),
			"access_token":  jwt(map[string]any{"exp": exp, "https://api.openai.com/auth": auth}),
			"refresh_token": placeholderRefresh,
			"account_id":    PlaceholderAccount,
		},
		"last_refresh": now.UTC().Format(time.RFC3339),
	}, "", "  ")
	return b
}
