package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// sseWriter writes Server-Sent Events and flushes each one.
type sseWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	pause <-chan struct{}
	sent  int
	done  <-chan struct{} // the request's context
}

func newSSE(w http.ResponseWriter, r *http.Request, pause <-chan struct{}) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w), pause: pause, done: r.Context().Done()}
}

// event writes one event; name "" omits the event: line (OpenAI style). It
// returns false once the client has gone away.
func (s *sseWriter) event(name string, data any) bool {
	b, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("llmtest: encoding event: %v", err))
	}
	return s.raw(name, string(b))
}

// raw writes one event with data taken verbatim.
func (s *sseWriter) raw(name, data string) bool {
	var frame string
	if name != "" {
		frame = "event: " + name + "\n"
	}
	frame += "data: " + data + "\n\n"
	if _, err := s.w.Write([]byte(frame)); err != nil {
		return false
	}
	if err := s.rc.Flush(); err != nil {
		return false
	}
	s.sent++
	if s.sent == 1 && s.pause != nil {
		select {
		case <-s.pause:
		case <-s.done:
			return false
		}
	}
	return true
}

// garbage writes bytes that break the stream mid-payload.
func (s *sseWriter) garbage(b string) {
	_, _ = s.w.Write([]byte(b))
	_ = s.rc.Flush()
}
