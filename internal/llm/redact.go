package llm

import "strings"

// redactor removes the provider key from any text the gateway produces from
// outside data (upstream errors, provider error bodies, header values). The
// gateway never formats the key itself; this is the second line of defence.
type redactor struct {
	key string
}

func (r redactor) string(s string) string {
	if r.key == "" || !strings.Contains(s, r.key) {
		return s
	}
	return strings.ReplaceAll(s, r.key, redacted)
}

func (r redactor) bytes(b []byte) []byte {
	if r.key == "" || !strings.Contains(string(b), r.key) {
		return b
	}
	return []byte(strings.ReplaceAll(string(b), r.key, redacted))
}
