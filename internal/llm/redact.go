package llm

import "strings"

// redactor removes the provider key from any text the gateway produces from
// outside data (upstream errors, provider error bodies, header values). The
// gateway never formats the key itself; this is the second line of defence.
type redactor struct {
	key string
	// token is a login's current bearer token (it changes on refresh, so
	// each request makes its own redactor with it).
	token string
}

// with returns r also scrubbing a login token.
func (r redactor) with(token string) redactor {
	r.token = token
	return r
}

func (r redactor) string(s string) string {
	for _, k := range []string{r.key, r.token} {
		if k != "" && strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, redacted)
		}
	}
	return s
}

func (r redactor) bytes(b []byte) []byte {
	if (r.key == "" || !strings.Contains(string(b), r.key)) && (r.token == "" || !strings.Contains(string(b), r.token)) {
		return b
	}
	return []byte(r.string(string(b)))
}
