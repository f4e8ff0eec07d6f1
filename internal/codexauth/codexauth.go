// Package codexauth is the host side of a Codex CLI login used by codex
// stages when the host has no OpenAI API key: the file `codex login`
// writes, $CODEX_HOME/auth.json, else ~/.codex/auth.json.
//
// The file holds an API key ("OPENAI_API_KEY", from `codex login
// --with-api-key`), a ChatGPT login ("tokens": an OAuth access token, its
// refresh token, an OpenID id token and the ChatGPT account id), or both;
// the ChatGPT login wins, as in Codex. A ChatGPT login is refreshed on the
// host and written back like any oauthlogin login: the access token's JWT
// says when it expires; the refresh goes to OpenAI's token endpoint with
// Codex's own public client id (a refresh token is redeemed only by the
// client it was issued to).
//
// Nothing of the login enters a guest: the LLM gateway adds the access
// token and the account to requests on the host; the guest's Codex holds a
// placeholder login (Placeholder) whose tokens are worth nothing.
package codexauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/oauthlogin"
)

// Host environment variables.
const (
	// HomeEnv is Codex's own directory (default ~/.codex).
	HomeEnv = "CODEX_HOME"
	// TokenURLEnv overrides DefaultTokenURL (tests, a proxy).
	TokenURLEnv = "VOIDBOX_CODEX_TOKEN_URL"
)

// DefaultTokenURL is OpenAI's OAuth token endpoint, the one Codex uses.
const DefaultTokenURL = "https://auth.openai.com/oauth/token"

// clientID is Codex CLI's public OAuth client (it is in the binary).
const clientID = "app_EMoamEEZ73f0CkXaXp7hrann"

// Sentinel errors, checked with errors.Is.
var (
	ErrNoLogin = errors.New("no Codex login on this host")
	ErrCorrupt = errors.New("unreadable Codex login")
	ErrRefresh = errors.New("refreshing the Codex login")
)

// Options say where the login is (the variables above, its file); the zero
// value reads the host's.
type Options = oauthlogin.HostOptions

// Login is what the file holds: a ChatGPT login (ChatGPT non-nil) or else
// an API key.
type Login struct {
	ChatGPT *oauthlogin.Source
	APIKey  string
	Path    string // the file
}

// Open finds and reads the login. A missing file is ErrNoLogin, one that
// holds neither a ChatGPT login nor an API key ErrCorrupt, both naming the
// file; no token ever appears in an error.
func Open(o Options) (*Login, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	path := o.Path
	if path == "" {
		dir, _ := lookup(HomeEnv)
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("%w: finding ~/.codex: %w", ErrNoLogin, err)
			}
			dir = filepath.Join(home, ".codex")
		}
		path = filepath.Join(dir, "auth.json")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (%s)", ErrNoLogin, path, format.LoginAgain)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the Codex login: %w", err)
	}
	f, err := parseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	if f.tokens == nil {
		if f.apiKey == "" {
			return nil, fmt.Errorf("%w: %s holds neither a ChatGPT login (\"tokens\") nor an API key (\"OPENAI_API_KEY\")", ErrCorrupt, path)
		}
		return &Login{APIKey: f.apiKey, Path: path}, nil
	}
	tokenURL := o.TokenURL
	if tokenURL == "" {
		tokenURL, _ = lookup(TokenURLEnv)
	}
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	src, err := oauthlogin.Open(format, path, oauthlogin.Options{TokenURL: tokenURL, Transport: o.Transport, Now: o.Now})
	if err != nil {
		return nil, err
	}
	return &Login{ChatGPT: src, Path: path}, nil
}

// format is Codex's auth.json and OpenAI's token endpoint.
var format = oauthlogin.Format{
	What:       "the Codex login",
	LoginAgain: "log in again with `codex login` on this host, or set OPENAI_API_KEY",
	ErrNoLogin: ErrNoLogin, ErrCorrupt: ErrCorrupt, ErrRefresh: ErrRefresh,
	Parse: func(b []byte) (oauthlogin.Login, error) {
		f, err := parseFile(b)
		if err == nil && f.tokens == nil {
			err = errors.New(`no "tokens" member (not a ChatGPT login)`)
		}
		if err != nil {
			return oauthlogin.Login{}, err
		}
		return f.login, nil
	},
	Encode: encode,
	Request: func(refreshToken string) any {
		return map[string]string{"client_id": clientID, "grant_type": "refresh_token", "refresh_token": refreshToken,
			"scope": "openid profile email"}
	},
	Answer: func(b []byte, now time.Time, old oauthlogin.Login) (oauthlogin.Login, error) {
		var v struct {
			IDToken      string  `json:"id_token"`
			AccessToken  string  `json:"access_token"`
			RefreshToken string  `json:"refresh_token"`
			ExpiresIn    float64 `json:"expires_in"`
		}
		switch {
		case json.Unmarshal(b, &v) != nil:
			return oauthlogin.Login{}, errors.New("token endpoint answered something other than JSON")
		case v.AccessToken == "":
			return oauthlogin.Login{}, errors.New("token endpoint answered no access_token")
		}
		l := oauthlogin.Login{AccessToken: v.AccessToken, RefreshToken: v.RefreshToken, IDToken: v.IDToken, Account: old.Account}
		if l.IDToken == "" {
			l.IDToken = old.IDToken
		}
		l.ExpiresAt = jwtExpiry(l.AccessToken)
		if l.ExpiresAt.IsZero() && v.ExpiresIn > 0 {
			l.ExpiresAt = now.Add(time.Duration(v.ExpiresIn * float64(time.Second)))
		}
		if a := accountOf(l.IDToken); l.Account == "" {
			l.Account = a
		}
		return l, nil
	},
}

// authFile is a parsed auth.json.
type authFile struct {
	top    map[string]json.RawMessage // the whole object, for encode
	apiKey string
	tokens map[string]json.RawMessage // nil without a ChatGPT login
	login  oauthlogin.Login
}

func parseFile(b []byte) (*authFile, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		// The decoder's message may quote the file's bytes, tokens included.
		return nil, errors.New("not a JSON object")
	}
	f := &authFile{top: top}
	if raw, ok := top["OPENAI_API_KEY"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &f.apiKey) != nil {
			return nil, errors.New("OPENAI_API_KEY must be a string or null")
		}
	}
	raw, ok := top["tokens"]
	if !ok || string(raw) == "null" {
		return f, nil
	}
	if err := json.Unmarshal(raw, &f.tokens); err != nil || f.tokens == nil {
		return nil, errors.New(`"tokens" is not an object`)
	}
	var v struct {
		IDToken      *string `json:"id_token"`
		AccessToken  *string `json:"access_token"`
		RefreshToken *string `json:"refresh_token"`
		AccountID    *string `json:"account_id"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, errors.New("tokens: id_token, access_token, refresh_token and account_id must be strings")
	}
	if v.AccessToken == nil || *v.AccessToken == "" {
		return nil, errors.New("tokens.access_token is missing or empty")
	}
	l := oauthlogin.Login{AccessToken: *v.AccessToken}
	if v.RefreshToken != nil {
		l.RefreshToken = *v.RefreshToken
	}
	if v.IDToken != nil {
		l.IDToken = *v.IDToken
	}
	if v.AccountID != nil {
		l.Account = *v.AccountID
	}
	if l.Account == "" {
		l.Account = accountOf(l.IDToken)
	}
	l.ExpiresAt = jwtExpiry(l.AccessToken)
	f.login = l
	return f, nil
}

// encode returns orig with l's tokens in place and last_refresh set to
// now, every other member kept as it was.
func encode(orig []byte, l oauthlogin.Login) ([]byte, error) {
	f, err := parseFile(orig)
	if err != nil {
		return nil, err
	}
	top := f.top
	set := func(m map[string]json.RawMessage, k string, v any) {
		b, _ := json.Marshal(v) // strings always marshal
		m[k] = b
	}
	set(f.tokens, "access_token", l.AccessToken)
	set(f.tokens, "refresh_token", l.RefreshToken)
	if l.IDToken != "" {
		set(f.tokens, "id_token", l.IDToken)
	}
	if l.Account != "" {
		set(f.tokens, "account_id", l.Account)
	}
	tb, err := json.Marshal(f.tokens)
	if err != nil {
		return nil, err
	}
	top["tokens"] = tb
	set(top, "last_refresh", time.Now().UTC().Format(time.RFC3339Nano))
	return json.MarshalIndent(top, "", "  ")
}

// claims decodes a JWT's payload without verifying it: the token is the
// user's own, read only to learn when to refresh it and which account it
// acts for. nil when tok is not a JWT.
func claims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// jwtExpiry is the exp claim of tok, zero when it has none.
func jwtExpiry(tok string) time.Time {
	if exp, ok := claims(tok)["exp"].(float64); ok && exp > 0 {
		return time.Unix(int64(exp), 0)
	}
	return time.Time{}
}

// authClaim is where OpenAI's tokens keep ChatGPT's claims.
const authClaim = "https://api.openai.com/auth"

// accountOf is the ChatGPT account id of an id token, "" when none.
func accountOf(idToken string) string {
	a, _ := claims(idToken)[authClaim].(map[string]any)
	s, _ := a["chatgpt_account_id"].(string)
	return s
}
