package oauthlogin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// maxTokenResponse bounds the token endpoint's answer.
const maxTokenResponse = 64 << 10

// exchange redeems old's refresh token at the token endpoint (RFC 6749 §6,
// in the JSON form the providers take). Errors carry the endpoint's status
// and error code, never a token.
func (s *Source) exchange(ctx context.Context, old Login) (Login, error) {
	body, err := json.Marshal(s.f.Request(old.RefreshToken))
	if err != nil {
		return Login{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, bytes.NewReader(body))
	if err != nil {
		return Login{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error names the URL, which holds no secret; the body did.
		return Login{}, fmt.Errorf("token endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return Login{}, fmt.Errorf("reading the token endpoint's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("token endpoint returned %d", resp.StatusCode)
		var v struct {
			Error any `json:"error"` // a code, or an object with one
		}
		if json.Unmarshal(b, &v) == nil {
			if code := errorCode(v.Error); code != "" {
				msg += " (" + code + ")"
			}
		}
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized {
			msg += ": " + s.f.LoginAgain
		}
		return Login{}, fmt.Errorf("%s", msg)
	}
	l, err := s.f.Answer(b, s.now(), old)
	if err != nil {
		return Login{}, err
	}
	if l.RefreshToken == "" {
		l.RefreshToken = old.RefreshToken // the endpoint kept the old one valid
	}
	return l, nil
}

// errorCode keeps an OAuth error code ("invalid_grant", or the "code" of an
// error object) fit for a message: short, and only the characters RFC 6749
// §5.2 allows in one.
func errorCode(v any) string {
	s, ok := v.(string)
	if m, isObj := v.(map[string]any); isObj {
		s, ok = m["code"].(string)
	}
	if !ok || len(s) > 64 {
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
