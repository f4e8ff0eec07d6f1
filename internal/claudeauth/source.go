// Package claudeauth is the host side of provider claude-personal: a Claude
// subscription login (Claude Code's own, from `claude` on this host) used by
// the LLM gateway instead of an API key.
//
// The login is read from CLAUDE_CODE_OAUTH_TOKEN (a long-lived token from
// `claude setup-token`, never refreshed) or from Claude Code's credentials
// file, $CLAUDE_CONFIG_DIR/.credentials.json, else ~/.claude/.credentials.json.
// An access token about to expire is refreshed on the host with the file's
// refresh token and written back, one refresh at a time across stages and
// processes (package oauthlogin).
//
// Nothing of the login enters a guest: the gateway adds the bearer token to
// requests on the host, the guest holds a placeholder.
package claudeauth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/voidbox/voidbox/internal/oauthlogin"
)

// Host environment variables.
const (
	// TokenEnv holds a long-lived OAuth token; it wins over the file.
	TokenEnv = "CLAUDE_CODE_OAUTH_TOKEN"
	// ConfigDirEnv is Claude Code's configuration directory (default ~/.claude).
	ConfigDirEnv = "CLAUDE_CONFIG_DIR"
	// TokenURLEnv overrides DefaultTokenURL (tests, a proxy).
	TokenURLEnv = "VOIDBOX_CLAUDE_TOKEN_URL"
)

// DefaultTokenURL is Anthropic's OAuth token endpoint.
const DefaultTokenURL = "https://console.anthropic.com/v1/oauth/token"

// Sentinel errors, checked with errors.Is.
var (
	ErrNoLogin = errors.New("no Claude login on this host")
	ErrCorrupt = errors.New("unreadable Claude Code credentials")
	ErrRefresh = errors.New("refreshing the Claude login")
)

// Options say where the login is (the variables above, its file); the zero
// value reads the host's.
type Options = oauthlogin.HostOptions

// Source hands out a valid access token, refreshing it when needed. It is
// safe for concurrent use; share one among the stages of a run.
type Source = oauthlogin.Source

// Open finds and reads the login. A missing or corrupt credentials file is
// an error naming the file; no token ever appears in an error.
func Open(o Options) (*Source, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if tok, _ := lookup(TokenEnv); tok != "" && o.Path == "" {
		return oauthlogin.Fixed(oauthlogin.Login{AccessToken: tok}, "$"+TokenEnv), nil
	}
	path := o.Path
	if path == "" {
		dir, _ := lookup(ConfigDirEnv)
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("%w: finding ~/.claude: %w (or set %s)", ErrNoLogin, err, TokenEnv)
			}
			dir = filepath.Join(home, ".claude")
		}
		path = filepath.Join(dir, ".credentials.json")
	}
	tokenURL := o.TokenURL
	if tokenURL == "" {
		tokenURL, _ = lookup(TokenURLEnv)
	}
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	return oauthlogin.Open(format, path, oauthlogin.Options{TokenURL: tokenURL, Transport: o.Transport, Now: o.Now})
}
