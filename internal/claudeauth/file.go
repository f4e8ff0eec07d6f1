package claudeauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// oauthKey is the member of Claude Code's credentials file that holds the
// claude.ai login; the file may hold others (MCP servers' logins), which a
// write-back keeps untouched.
const oauthKey = "claudeAiOauth"

// login is the part of the credentials file voidbox reads and rewrites.
type login struct {
	AccessToken  string
	RefreshToken string
	// ExpiresAt is zero when the file gives no expiry (never refreshed).
	ExpiresAt time.Time
}

// credFile is a parsed credentials file: the login plus every other member,
// byte for byte, for the write-back.
type credFile struct {
	login login
	top   map[string]json.RawMessage // the whole object
	oauth map[string]json.RawMessage // top[oauthKey]
}

// readFile reads and checks the credentials file. Its errors name the file
// and never include a token.
func readFile(path string) (*credFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist (log in with `claude` on this host, or set %s)", ErrNoLogin, path, TokenEnv)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Claude Code credentials: %w", err)
	}
	c, err := parseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	return c, nil
}

func parseFile(b []byte) (*credFile, error) {
	c := &credFile{}
	if err := json.Unmarshal(b, &c.top); err != nil || c.top == nil {
		// The decoder's message may quote the file's bytes, tokens included.
		return nil, errors.New("not a JSON object")
	}
	raw, ok := c.top[oauthKey]
	if !ok {
		return nil, fmt.Errorf("no %q member (not a claude.ai login)", oauthKey)
	}
	if err := json.Unmarshal(raw, &c.oauth); err != nil || c.oauth == nil {
		return nil, fmt.Errorf("%q is not an object", oauthKey)
	}
	var v struct {
		AccessToken  *string  `json:"accessToken"`
		RefreshToken *string  `json:"refreshToken"`
		ExpiresAt    *float64 `json:"expiresAt"` // milliseconds since the epoch
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: accessToken and refreshToken must be strings, expiresAt a number", oauthKey)
	}
	if v.AccessToken == nil || *v.AccessToken == "" {
		return nil, fmt.Errorf("%s.accessToken is missing or empty", oauthKey)
	}
	c.login.AccessToken = *v.AccessToken
	if v.RefreshToken != nil {
		c.login.RefreshToken = *v.RefreshToken
	}
	if v.ExpiresAt != nil {
		c.login.ExpiresAt = time.UnixMilli(int64(*v.ExpiresAt))
	}
	return c, nil
}

// encode returns the file with l in place of its login, every other member
// kept as it was.
func (c *credFile) encode(l login) ([]byte, error) {
	set := func(k string, v any) {
		b, _ := json.Marshal(v) // strings and integers always marshal
		c.oauth[k] = b
	}
	set("accessToken", l.AccessToken)
	set("refreshToken", l.RefreshToken)
	set("expiresAt", l.ExpiresAt.UnixMilli())
	ob, err := json.Marshal(c.oauth)
	if err != nil {
		return nil, err
	}
	c.top[oauthKey] = ob
	return json.MarshalIndent(c.top, "", "  ")
}

// writeFile replaces path atomically: a 0600 temporary file in the same
// directory, synced, renamed over it. A reader (Claude Code itself, another
// voidbox) sees the old file or the new one, never half of one.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".credentials-*.tmp")
	if err != nil {
		return fmt.Errorf("writing Claude Code credentials: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing Claude Code credentials: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing Claude Code credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing Claude Code credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing Claude Code credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing Claude Code credentials: %w", err)
	}
	return nil
}
