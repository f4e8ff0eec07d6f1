// Package claudeauth is the host side of provider claude-personal: a Claude
// subscription login (Claude Code's own, from `claude` on this host) used by
// the LLM gateway instead of an API key.
//
// The login is read from CLAUDE_CODE_OAUTH_TOKEN (a long-lived token from
// `claude setup-token`, never refreshed) or from Claude Code's credentials
// file, $CLAUDE_CONFIG_DIR/.credentials.json, else ~/.claude/.credentials.json.
// An access token about to expire is refreshed on the host with the file's
// refresh token, and the new tokens are written back (0600, atomically) so
// Claude Code on the host keeps working: the refresh token is single-use at
// the provider, so a copy that is not written back logs the user out.
//
// One refresh at a time: within a process, every stage of a run shares one
// Source, whose refresh is guarded (waiters take its result); across
// processes, an exclusive flock beside the file is held while it is re-read,
// refreshed and rewritten, so a second process finds the fresh token instead
// of spending the refresh token again.
//
// Nothing of the login enters a guest: the gateway adds the bearer token to
// requests on the host, the guest holds a placeholder.
package claudeauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/filelock"
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

// refreshMargin: a token that expires sooner than this is refreshed first,
// so that it does not expire in the middle of a request.
const refreshMargin = 2 * time.Minute

// Sentinel errors, checked with errors.Is.
var (
	ErrNoLogin = errors.New("no Claude login on this host")
	ErrCorrupt = errors.New("unreadable Claude Code credentials")
	ErrRefresh = errors.New("refreshing the Claude login")
)

// Options say where the login is. The zero value reads the host's.
type Options struct {
	// Path is the credentials file; "" for the default location.
	Path string
	// LookupEnv reads the variables above; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// TokenURL is the OAuth token endpoint; "" for $VOIDBOX_CLAUDE_TOKEN_URL,
	// else DefaultTokenURL. It must be https, or http to a loopback address.
	TokenURL string
	// Transport sends refresh requests; default http.DefaultTransport (which
	// honours the host's HTTPS_PROXY).
	Transport http.RoundTripper
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Source hands out a valid access token, refreshing it when needed. It is
// safe for concurrent use; share one among the stages of a run.
type Source struct {
	path     string // "" when the token came from TokenEnv
	tokenURL string
	client   *http.Client
	now      func() time.Time
	// refreshing holds a token while a goroutine refreshes: one refresh at
	// a time, and a waiter gives up when its context ends.
	refreshing chan struct{}

	// mu guards cur.
	mu  sync.Mutex
	cur login // guarded by mu
}

// Open finds and reads the login. A missing or corrupt credentials file is
// an error naming the file; no token ever appears in an error.
func Open(o Options) (*Source, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	s := &Source{now: o.Now, refreshing: make(chan struct{}, 1), client: &http.Client{Transport: o.Transport, Timeout: time.Minute}}
	if s.now == nil {
		s.now = time.Now
	}
	if tok, _ := lookup(TokenEnv); tok != "" && o.Path == "" {
		s.cur = login{AccessToken: tok}
		return s, nil
	}
	s.path = o.Path
	if s.path == "" {
		dir, _ := lookup(ConfigDirEnv)
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("%w: finding ~/.claude: %w (or set %s)", ErrNoLogin, err, TokenEnv)
			}
			dir = filepath.Join(home, ".claude")
		}
		s.path = filepath.Join(dir, ".credentials.json")
	}
	s.tokenURL = o.TokenURL
	if s.tokenURL == "" {
		s.tokenURL, _ = lookup(TokenURLEnv)
	}
	if s.tokenURL == "" {
		s.tokenURL = DefaultTokenURL
	}
	if err := checkTokenURL(s.tokenURL); err != nil {
		return nil, err
	}
	c, err := readFile(s.path)
	if err != nil {
		return nil, err
	}
	s.cur = c.login
	return s, nil
}

// Where says where the login came from, for messages.
func (s *Source) Where() string {
	if s.path == "" {
		return "$" + TokenEnv
	}
	return s.path
}

// Token returns an access token valid for at least a while, refreshing (and
// writing back) an expiring one first.
func (s *Source) Token(ctx context.Context) (string, error) {
	if l, ok := s.fresh(); ok {
		return l.AccessToken, nil
	}
	select {
	case s.refreshing <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", ErrRefresh, ctx.Err())
	}
	defer func() { <-s.refreshing }()
	if l, ok := s.fresh(); ok { // refreshed while this one waited
		return l.AccessToken, nil
	}
	l, err := s.refresh(ctx)
	if err != nil {
		if old := s.current(); s.now().Before(old.ExpiresAt) {
			return old.AccessToken, nil // not expired yet: try it, the next request retries the refresh
		}
		return "", err
	}
	return l.AccessToken, nil
}

func (s *Source) current() login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *Source) fresh() (login, bool) {
	l := s.current()
	return l, s.valid(l)
}

// valid: a token from the environment, or one without a known expiry, is
// used as it is (the provider's 401 then says what is wrong).
func (s *Source) valid(l login) bool {
	return s.path == "" || l.ExpiresAt.IsZero() || s.now().Add(refreshMargin).Before(l.ExpiresAt)
}

// refresh renews the login under the file lock. Precondition: s.refreshing
// is held.
func (s *Source) refresh(ctx context.Context) (login, error) {
	lock, err := filelock.Acquire(ctx, s.path+".voidbox-lock", nil)
	if err != nil {
		return login{}, fmt.Errorf("%w: %w", ErrRefresh, err)
	}
	defer lock.Close()
	// Another process (Claude Code, another voidbox) may have refreshed it.
	c, err := readFile(s.path)
	if err != nil {
		return login{}, err
	}
	if s.valid(c.login) {
		s.set(c.login)
		return c.login, nil
	}
	if c.login.RefreshToken == "" {
		return login{}, fmt.Errorf("%w: %s: the login has expired and holds no refresh token (log in again with `claude`)", ErrRefresh, s.path)
	}
	nl, err := s.exchange(ctx, c.login.RefreshToken)
	if err != nil {
		return login{}, fmt.Errorf("%w from %s: %w", ErrRefresh, s.path, err)
	}
	data, err := c.encode(nl)
	if err != nil {
		return login{}, fmt.Errorf("%w: %w", ErrRefresh, err)
	}
	// The old refresh token is spent: without the write-back the user's
	// own Claude Code would be logged out.
	if err := writeFile(s.path, data); err != nil {
		return login{}, fmt.Errorf("%w: %s: %w", ErrRefresh, s.path, err)
	}
	s.set(nl)
	return nl, nil
}

func (s *Source) set(l login) {
	s.mu.Lock()
	s.cur = l
	s.mu.Unlock()
}

// checkTokenURL allows https anywhere and plain http only to loopback (a
// test server): the refresh token must not cross a network in clear.
func checkTokenURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: token URL %q: want https://HOST/PATH", ErrRefresh, raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%w: token URL %q: want https (plain http only to a loopback address)", ErrRefresh, raw)
}
