package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// maxBody caps what a fake reads from one request.
const maxBody = 32 << 20

// Server is a fake provider. It is an httptest.Server (URL, Client, Close);
// it closes itself when the test ends.
type Server struct {
	*httptest.Server
	t      testing.TB
	format string // "anthropic" | "openai" | "responses" | "chatgpt" (the Responses API too)

	// mu guards the fields below it.
	mu      sync.Mutex
	turns   []Turn    // guarded by mu: the script
	next    int       // guarded by mu: index of the next unused turn
	reqs    []Request // guarded by mu
	wantKey string    // guarded by mu
	// wantAccount is RequireAccount's; guarded by mu.
	wantAccount string
	ids         int // guarded by mu: counter for generated ids
}

// NewAnthropic starts a fake Anthropic Messages API answering script.
func NewAnthropic(t testing.TB, script ...Turn) *Server {
	return start(t, "anthropic", script)
}

// NewOpenAI starts a fake OpenAI Chat Completions API answering script.
func NewOpenAI(t testing.TB, script ...Turn) *Server {
	return start(t, "openai", script)
}

func start(t testing.TB, format string, script []Turn) *Server {
	t.Helper()
	s := &Server{t: t, format: format, turns: append([]Turn(nil), script...)}
	switch format {
	case "anthropic":
		s.Server = httptest.NewServer(http.HandlerFunc(s.serveAnthropic))
	case "responses", "chatgpt":
		s.Server = httptest.NewServer(http.HandlerFunc(s.serveResponses))
	default:
		s.Server = httptest.NewServer(http.HandlerFunc(s.serveOpenAI))
	}
	t.Cleanup(s.Close)
	return s
}

// Push appends turns to the script.
func (s *Server) Push(turns ...Turn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.turns = append(s.turns, turns...)
}

// Remaining returns how many scripted turns are still unused.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.turns) - s.next
}

// RequireKey makes the fake answer 401, as the real API does, unless the
// request presents key.
func (s *Server) RequireKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wantKey = key
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i := range s.reqs {
		out[i] = s.reqs[i].clone()
	}
	return out
}

// AuthSeen returns the distinct credentials presented, in order of arrival.
func (s *Server) AuthSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, r := range s.reqs {
		if !seen[r.Auth] {
			seen[r.Auth] = true
			out = append(out, r.Auth)
		}
	}
	return out
}

// TotalUsage sums the usage the fake reported across all requests.
func (s *Server) TotalUsage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u Usage
	for _, r := range s.reqs {
		u.Input += r.Usage.Input
		u.Output += r.Usage.Output
		u.CacheRead += r.Usage.CacheRead
		u.CacheWrite += r.Usage.CacheWrite
	}
	return u
}

// begin records an arriving request and returns its index in s.reqs.
func (s *Server) begin(r *http.Request) (int, *Request, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	rec := Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Auth:     credential(r.Header),
		Body:     body,
		format:   s.format,
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) == nil {
			rec.JSON = m
			rec.Model, _ = m["model"].(string)
			rec.Stream, _ = m["stream"].(bool)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.N = len(s.reqs) + 1
	s.reqs = append(s.reqs, rec)
	return len(s.reqs) - 1, &rec, err
}

// finish stores the outcome of request i.
func (s *Server) finish(i, status int, usage Usage, invalid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs[i].Status = status
	s.reqs[i].Usage = usage
	s.reqs[i].Invalid = invalid
	if invalid != "" {
		s.t.Logf("llmtest: %s request %d rejected: %s", s.format, i+1, invalid)
	}
}

// credential extracts the key a request presents.
func credential(h http.Header) string {
	if k := h.Get("X-Api-Key"); k != "" {
		return k
	}
	if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return a[7:]
	}
	return ""
}

// keyOK checks the credential against RequireKey.
// accountOK checks r's ChatGPT-Account-Id against RequireAccount's.
func (s *Server) accountOK(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wantAccount == "" || r.Header.Get("Chatgpt-Account-Id") == s.wantAccount
}

// bearer is r's Authorization bearer token.
func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func (s *Server) keyOK(got string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wantKey == "" || got == s.wantKey
}

// takeTurn pops the next scripted turn and resolves Func turns against req.
func (s *Server) takeTurn(req *Request) (Turn, bool) {
	s.mu.Lock()
	if s.next >= len(s.turns) {
		n := len(s.turns)
		s.mu.Unlock()
		s.t.Errorf("llmtest: %s request %d arrived but the script has only %d turns", s.format, req.N, n)
		return Turn{}, false
	}
	turn := s.turns[s.next]
	s.next++
	s.mu.Unlock()
	for depth := 0; turn.kind == kindFunc; depth++ {
		if depth == 8 {
			s.t.Errorf("llmtest: Func turns nested more than 8 deep")
			return Turn{}, false
		}
		turn = turn.fn(req)
	}
	return turn, true
}

// newID returns a fresh id with the given prefix.
func (s *Server) newID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return fmt.Sprintf("%s%024d", prefix, s.ids)
}

// estimate fills the default usage of a reply turn.
func estimate(t Turn, reqBody []byte, answer string) Usage {
	u := t.usage
	if !t.usageSet {
		u.Input = max(1, len(reqBody)/4)
		u.Output = max(1, len(answer)/4)
	}
	return u
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llmtest: encoding response: %v", err)) // a bug in the fake
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// marshalInput encodes a tool input the way the providers do (no HTML escaping).
func marshalInput(in map[string]any) string {
	if in == nil {
		in = map[string]any{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(in); err != nil {
		panic(fmt.Sprintf("llmtest: encoding tool input: %v", err))
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// chunks splits s into pieces of about n bytes on rune boundaries, as the
// providers' incremental deltas arrive.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		cut := min(n, len(s))
		for cut < len(s) && !isRuneStart(s[cut]) {
			cut++
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return out
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
