package claudeauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/voidbox/voidbox/internal/oauthlogin"
)

// oauthKey is the member of Claude Code's credentials file that holds the
// claude.ai login; the file may hold others (MCP servers' logins), which a
// write-back keeps untouched.
const oauthKey = "claudeAiOauth"

// clientID is Claude Code's public OAuth client: a refresh token can only be
// redeemed by the client it was issued to.
const clientID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"

// format is Claude Code's credentials file and Anthropic's token endpoint.
var format = oauthlogin.Format{
	What:       "Claude Code credentials",
	LoginAgain: "log in again with `claude` on this host, or set " + TokenEnv,
	ErrNoLogin: ErrNoLogin, ErrCorrupt: ErrCorrupt, ErrRefresh: ErrRefresh,
	Parse: func(b []byte) (oauthlogin.Login, error) {
		_, _, l, err := parseFile(b)
		return l, err
	},
	Encode: encode,
	Request: func(refreshToken string) any {
		return map[string]string{"grant_type": "refresh_token", "refresh_token": refreshToken, "client_id": clientID}
	},
	Answer: func(b []byte, now time.Time, _ oauthlogin.Login) (oauthlogin.Login, error) {
		var v struct {
			AccessToken  string  `json:"access_token"`
			RefreshToken string  `json:"refresh_token"`
			ExpiresIn    float64 `json:"expires_in"`
		}
		switch {
		case json.Unmarshal(b, &v) != nil:
			return oauthlogin.Login{}, errors.New("token endpoint answered something other than JSON")
		case v.AccessToken == "":
			return oauthlogin.Login{}, errors.New("token endpoint answered no access_token")
		case v.ExpiresIn <= 0:
			return oauthlogin.Login{}, errors.New("token endpoint answered no expires_in")
		}
		return oauthlogin.Login{AccessToken: v.AccessToken, RefreshToken: v.RefreshToken,
			ExpiresAt: now.Add(time.Duration(v.ExpiresIn * float64(time.Second)))}, nil
	},
}

// parseFile reads the whole object, its oauthKey member and the login.
// Its errors never quote the file.
func parseFile(b []byte) (top, oauth map[string]json.RawMessage, l oauthlogin.Login, err error) {
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		// The decoder's message may quote the file's bytes, tokens included.
		return nil, nil, l, errors.New("not a JSON object")
	}
	raw, ok := top[oauthKey]
	if !ok {
		return nil, nil, l, fmt.Errorf("no %q member (not a claude.ai login)", oauthKey)
	}
	if err := json.Unmarshal(raw, &oauth); err != nil || oauth == nil {
		return nil, nil, l, fmt.Errorf("%q is not an object", oauthKey)
	}
	var v struct {
		AccessToken  *string  `json:"accessToken"`
		RefreshToken *string  `json:"refreshToken"`
		ExpiresAt    *float64 `json:"expiresAt"` // milliseconds since the epoch
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, nil, l, fmt.Errorf("%s: accessToken and refreshToken must be strings, expiresAt a number", oauthKey)
	}
	if v.AccessToken == nil || *v.AccessToken == "" {
		return nil, nil, l, fmt.Errorf("%s.accessToken is missing or empty", oauthKey)
	}
	l.AccessToken = *v.AccessToken
	if v.RefreshToken != nil {
		l.RefreshToken = *v.RefreshToken
	}
	if v.ExpiresAt != nil {
		l.ExpiresAt = time.UnixMilli(int64(*v.ExpiresAt))
	}
	return top, oauth, l, nil
}

// encode returns the file orig with l in place of its login, every other
// member kept as it was.
func encode(orig []byte, l oauthlogin.Login) ([]byte, error) {
	top, oauth, _, err := parseFile(orig)
	if err != nil {
		return nil, err
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v) // strings and integers always marshal
		oauth[k] = b
	}
	set("accessToken", l.AccessToken)
	set("refreshToken", l.RefreshToken)
	set("expiresAt", l.ExpiresAt.UnixMilli())
	ob, err := json.Marshal(oauth)
	if err != nil {
		return nil, err
	}
	top[oauthKey] = ob
	return json.MarshalIndent(top, "", "  ")
}
