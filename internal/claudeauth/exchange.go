package claudeauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// clientID is Claude Code's public OAuth client: a refresh token can only be
// redeemed by the client it was issued to.
const clientID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"

// maxTokenResponse bounds the token endpoint's answer.
const maxTokenResponse = 64 << 10

// exchange redeems refreshToken at the token endpoint (RFC 6749 §6, in the
// JSON form Anthropic's endpoint takes). Errors carry the endpoint's status
// and error code, never a token.
func (s *Source) exchange(ctx context.Context, refreshToken string) (login, error) {
	body, _ := json.Marshal(map[string]string{
		"grant_type":    "refresh_token",
		"refresh_token": refreshToken,
		"client_id":     clientID,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, bytes.NewReader(body))
	if err != nil {
		return login{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error names the URL, which holds no secret; the body did.
		return login{}, fmt.Errorf("token endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return login{}, fmt.Errorf("reading the token endpoint's answer: %w", err)
	}
	var v struct {
		AccessToken  string  `json:"access_token"`
		RefreshToken string  `json:"refresh_token"`
		ExpiresIn    float64 `json:"expires_in"`
		Error        string  `json:"error"`
	}
	jerr := json.Unmarshal(b, &v)
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("token endpoint returned %d", resp.StatusCode)
		if code := errorCode(v.Error); jerr == nil && code != "" {
			msg += " (" + code + ")"
		}
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			msg += ": log in again with `claude` on this host"
		}
		return login{}, fmt.Errorf("%s", msg)
	}
	switch {
	case jerr != nil:
		return login{}, fmt.Errorf("token endpoint answered something other than JSON")
	case v.AccessToken == "":
		return login{}, fmt.Errorf("token endpoint answered no access_token")
	case v.ExpiresIn <= 0:
		return login{}, fmt.Errorf("token endpoint answered no expires_in")
	}
	l := login{AccessToken: v.AccessToken, RefreshToken: v.RefreshToken,
		ExpiresAt: s.now().Add(time.Duration(v.ExpiresIn * float64(time.Second)))}
	if l.RefreshToken == "" {
		l.RefreshToken = refreshToken // the endpoint kept the old one valid
	}
	return l, nil
}

// errorCode keeps an OAuth error code ("invalid_grant") fit for a message:
// short, and only the characters RFC 6749 §5.2 allows in one.
func errorCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return ""
		}
	}
	return strings.TrimSpace(s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
