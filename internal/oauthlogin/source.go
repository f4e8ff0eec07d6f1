// Package oauthlogin keeps a host-side OAuth login usable for the LLM
// gateway: an agent CLI's own login (Claude Code's, Codex's) read from the
// file that CLI keeps, its access token refreshed on the host when it is
// about to expire, and the new tokens written back (0600, atomically) so
// the CLI on the host keeps working: refresh tokens are single-use at the
// providers, so a copy that is not written back logs the user out.
//
// One refresh at a time: within a process, every stage of a run shares one
// Source, whose refresh is guarded (waiters take its result); across
// processes, an exclusive flock beside the file is held while it is re-read,
// refreshed and rewritten, so a second process finds the fresh token
// instead of spending the refresh token again.
//
// What differs between CLIs (the file's layout, the token endpoint's
// request and answer) is a Format; packages claudeauth and codexauth hold
// theirs. Nothing of a login enters a guest: the gateway adds it to
// requests on the host.
package oauthlogin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/voidbox/voidbox/internal/filelock"
)

// refreshMargin: a token that expires sooner than this is refreshed first,
// so that it does not expire in the middle of a request.
const refreshMargin = 2 * time.Minute

// Login is what a Format reads from its file and a refresh returns.
type Login struct {
	AccessToken  string
	RefreshToken string
	// IDToken is an OpenID id token the file keeps beside them, if any.
	IDToken string
	// Account is the account the login acts for, if the provider needs it
	// named on each request (ChatGPT's); "" otherwise.
	Account string
	// ExpiresAt is zero when the login gives no expiry.
	ExpiresAt time.Time
}

// Format is one CLI's login file and token endpoint.
type Format struct {
	// What names the file in messages ("Claude Code credentials").
	What string
	// LoginAgain tells the user how to log in ("log in again with `claude`
	// on this host").
	LoginAgain string
	// ErrNoLogin, ErrCorrupt and ErrRefresh wrap this format's errors.
	ErrNoLogin, ErrCorrupt, ErrRefresh error
	// Parse reads a file. Its errors must not quote the file's bytes.
	Parse func(b []byte) (Login, error)
	// Encode returns the file orig with l in place of its login, every
	// other member kept.
	Encode func(orig []byte, l Login) ([]byte, error)
	// Request is the token endpoint's JSON request body for refreshToken.
	Request func(refreshToken string) any
	// Answer reads the endpoint's 200 answer; old is the login refreshed.
	Answer func(b []byte, now time.Time, old Login) (Login, error)
}

// Options configure a Source.
type Options struct {
	// TokenURL is the OAuth token endpoint: https, or http to a loopback
	// address (a test server).
	TokenURL string
	// Transport sends refresh requests; default http.DefaultTransport (which
	// honours the host's HTTPS_PROXY).
	Transport http.RoundTripper
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// HostOptions say where a CLI's login is on the host, for the packages that
// open one (claudeauth, codexauth). The zero value reads the host's.
type HostOptions struct {
	// Path is the login file; "" for the CLI's default location.
	Path string
	// LookupEnv reads the package's environment variables; default
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// TokenURL is the OAuth token endpoint; "" for the package's override
	// variable, else the provider's. It must be https, or http to a
	// loopback address.
	TokenURL string
	// Transport sends refresh requests; default http.DefaultTransport (which
	// honours the host's HTTPS_PROXY).
	Transport http.RoundTripper
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Source hands out a valid login, refreshing it when needed. It is safe for
// concurrent use; share one among the stages of a run.
type Source struct {
	f        Format
	path     string // "" for a fixed login (a token from the environment)
	where    string // a fixed login's origin
	tokenURL string
	client   *http.Client
	now      func() time.Time
	// refreshing holds a token while a goroutine refreshes: one refresh at
	// a time, and a waiter gives up when its context ends.
	refreshing chan struct{}

	// mu guards cur.
	mu  sync.Mutex
	cur Login // guarded by mu
}

// Fixed is a Source of a login that is never refreshed, whose origin
// where names in messages.
func Fixed(l Login, where string) *Source {
	return &Source{where: where, cur: l, now: time.Now}
}

// Open reads the login in path. A missing or corrupt file is an error
// naming it; no token ever appears in an error.
func Open(f Format, path string, o Options) (*Source, error) {
	s := &Source{f: f, path: path, tokenURL: o.TokenURL, now: o.Now, refreshing: make(chan struct{}, 1),
		client: &http.Client{Transport: o.Transport, Timeout: time.Minute}}
	if s.now == nil {
		s.now = time.Now
	}
	if err := checkTokenURL(f, s.tokenURL); err != nil {
		return nil, err
	}
	l, _, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cur = l
	return s, nil
}

// Where says where the login came from, for messages.
func (s *Source) Where() string {
	if s.path == "" {
		return s.where
	}
	return s.path
}

// Token returns an access token valid for at least a while, refreshing (and
// writing back) an expiring one first.
func (s *Source) Token(ctx context.Context) (string, error) {
	l, err := s.Login(ctx)
	return l.AccessToken, err
}

// Login is Token with the rest of the login (its account).
func (s *Source) Login(ctx context.Context) (Login, error) {
	if l, ok := s.fresh(); ok {
		return l, nil
	}
	select {
	case s.refreshing <- struct{}{}:
	case <-ctx.Done():
		return Login{}, fmt.Errorf("%w: %w", s.f.ErrRefresh, ctx.Err())
	}
	defer func() { <-s.refreshing }()
	if l, ok := s.fresh(); ok { // refreshed while this one waited
		return l, nil
	}
	l, err := s.refresh(ctx)
	if err != nil {
		if old := s.current(); s.now().Before(old.ExpiresAt) {
			return old, nil // not expired yet: try it, the next request retries the refresh
		}
		return Login{}, err
	}
	return l, nil
}

func (s *Source) current() Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *Source) fresh() (Login, bool) {
	l := s.current()
	return l, s.valid(l)
}

// valid: a fixed login, or one without a known expiry, is used as it is
// (the provider's 401 then says what is wrong).
func (s *Source) valid(l Login) bool {
	return s.path == "" || l.ExpiresAt.IsZero() || s.now().Add(refreshMargin).Before(l.ExpiresAt)
}

// refresh renews the login under the file lock. Precondition: s.refreshing
// is held.
func (s *Source) refresh(ctx context.Context) (Login, error) {
	lock, err := filelock.Acquire(ctx, s.path+".voidbox-lock", nil)
	if err != nil {
		return Login{}, fmt.Errorf("%w: %w", s.f.ErrRefresh, err)
	}
	defer lock.Close()
	// Another process (the CLI itself, another voidbox) may have refreshed it.
	cur, orig, err := s.read()
	if err != nil {
		return Login{}, err
	}
	if s.valid(cur) {
		s.set(cur)
		return cur, nil
	}
	if cur.RefreshToken == "" {
		return Login{}, fmt.Errorf("%w: %s: the login has expired and holds no refresh token (%s)", s.f.ErrRefresh, s.path, s.f.LoginAgain)
	}
	nl, err := s.exchange(ctx, cur)
	if err != nil {
		return Login{}, fmt.Errorf("%w from %s: %w", s.f.ErrRefresh, s.path, err)
	}
	data, err := s.f.Encode(orig, nl)
	if err != nil {
		return Login{}, fmt.Errorf("%w: %w", s.f.ErrRefresh, err)
	}
	// The old refresh token is spent: without the write-back the user's
	// own CLI would be logged out.
	if err := writeFile(s.path, data, s.f.What); err != nil {
		return Login{}, fmt.Errorf("%w: %s: %w", s.f.ErrRefresh, s.path, err)
	}
	s.set(nl)
	return nl, nil
}

func (s *Source) set(l Login) {
	s.mu.Lock()
	s.cur = l
	s.mu.Unlock()
}

// checkTokenURL allows https anywhere and plain http only to loopback (a
// test server): the refresh token must not cross a network in clear.
func checkTokenURL(f Format, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: token URL %q: want https://HOST/PATH", f.ErrRefresh, raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%w: token URL %q: want https (plain http only to a loopback address)", f.ErrRefresh, raw)
}

// Account is the current login's account ("" when it names none).
func (s *Source) Account() string { return s.current().Account }
