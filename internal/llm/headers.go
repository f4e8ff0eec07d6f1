package llm

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopByHop are the RFC 9110 §7.6.1 connection-specific fields plus the old
// Proxy-Connection; a proxy must not forward them.
var hopByHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
}

// droppedRequest are fields the gateway sets itself or that would let the
// guest steer routing or caching: the request body is re-sent as we parsed
// it, and the upstream identity is fixed by the provider config.
var droppedRequest = map[string]bool{
	"Host":                true,
	"Content-Length":      true,
	"Content-Encoding":    true,
	"Accept-Encoding":     true,
	"Expect":              true,
	"Forwarded":           true,
	"Via":                 true,
	"X-Real-Ip":           true,
	"True-Client-Ip":      true,
	"Openai-Organization": true, // billing scope is the host's choice
	"Openai-Project":      true,
	"Chatgpt-Account-Id":  true, // the login's account, set by the gateway
}

// credentialWords mark a header as credential-ish when found anywhere in its
// lower-cased name; such headers never reach the provider from the guest.
var credentialWords = []string{"auth", "key", "token", "secret", "cookie", "session", "passw", "credential", "signature"}

// forbiddenPrefixes are header families that carry proxy or forwarding
// information the guest must not be able to forge.
var forbiddenPrefixes = []string{"proxy-", "x-forwarded-", "cf-", "x-envoy-", "x-amzn-"}

// dropRequestHeader reports whether a guest header must not be forwarded.
// connTokens are the names listed in the guest's Connection header.
func dropRequestHeader(name string, connTokens map[string]bool) bool {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	if hopByHop[canon] || droppedRequest[canon] || connTokens[canon] {
		return true
	}
	lower := strings.ToLower(name)
	for _, p := range forbiddenPrefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	for _, w := range credentialWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// connectionTokens lists the fields a sender marked hop-by-hop via Connection.
func connectionTokens(h http.Header) map[string]bool {
	toks := map[string]bool{}
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				toks[textproto.CanonicalMIMEHeaderKey(f)] = true
			}
		}
	}
	return toks
}

// outboundHeader builds the upstream request's header: the guest's harmless
// fields (anthropic-beta, user-agent, SDK telemetry) plus our credential.
// bearer is the login token of a Token provider ("" otherwise).
// account is the login's account (KindChatGPT).
func outboundHeader(in http.Header, p resolved, ep endpoint, hasBody bool, bearer, account string) http.Header {
	conn := connectionTokens(in)
	out := make(http.Header, len(in)+3)
	for name, vals := range in {
		if dropRequestHeader(name, conn) {
			continue
		}
		out[textproto.CanonicalMIMEHeaderKey(name)] = append([]string(nil), vals...)
	}
	if hasBody {
		out.Set("Content-Type", "application/json")
	}
	// identity keeps the stream flushable as it arrives and readable by the
	// usage meter; Go's transport would otherwise negotiate gzip.
	out.Set("Accept-Encoding", "identity")
	if ep.format == formatAnthropic && out.Get("Anthropic-Version") == "" {
		out.Set("Anthropic-Version", "2023-06-01")
	}
	if p.Kind == KindClaudePersonal {
		// Anthropic's API takes a subscription's OAuth token only with this
		// beta flag; the guest's own flags (Claude Code sends several) stay.
		out.Add("Anthropic-Beta", oauthBeta)
		out.Set("Authorization", "Bearer "+bearer)
		return out
	}
	if p.Kind == KindChatGPT {
		out.Set("Authorization", "Bearer "+bearer)
		if account != "" {
			out.Set("Chatgpt-Account-Id", account)
		}
		return out
	}
	if p.APIKey.Empty() {
		return out
	}
	switch p.Kind {
	case KindAnthropic, KindCustom:
		out.Set("X-Api-Key", p.APIKey.Reveal())
	default:
		out.Set("Authorization", "Bearer "+p.APIKey.Reveal())
	}
	return out
}

// oauthBeta is the anthropic-beta flag that admits OAuth bearer tokens.
const oauthBeta = "oauth-2025-04-20"

// droppedResponse are upstream fields the guest gets no value from or that
// we cannot pass on faithfully.
var droppedResponse = map[string]bool{
	"Set-Cookie":     true, // edge cookies belong to the host's session
	"Content-Length": true, // the server recomputes it; error bodies may be redacted
}

// copyResponseHeader copies the upstream header to the guest, minus
// hop-by-hop fields and with the key scrubbed from any value.
func copyResponseHeader(dst, src http.Header, red redactor) {
	conn := connectionTokens(src)
	for name, vals := range src {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if hopByHop[canon] || droppedResponse[canon] || conn[canon] {
			continue
		}
		for _, v := range vals {
			dst.Add(canon, red.string(v))
		}
	}
}
