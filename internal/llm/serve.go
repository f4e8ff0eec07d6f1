package llm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// maxQueryBytes bounds the forwarded query string (Claude Code sends
// "?beta=true"; nothing legitimate is long).
const maxQueryBytes = 1024

// maxErrorBodyBytes bounds a provider's non-2xx body, which is read whole so
// the key can be scrubbed from it before the guest sees it.
const maxErrorBodyBytes = 1 << 20

// statusClientClosed is recorded for a request the guest abandoned before
// it was forwarded (nginx's 499; nothing is sent).
const statusClientClosed = 499

// ServeHTTP handles one guest request. Every path through it ends in
// g.record, so each request yields exactly one event.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ev := RequestEvent{Method: truncate(r.Method, 16), Path: truncate(r.URL.Path, 256), Priced: true}
	defer func() {
		ev.Duration = time.Since(start)
		g.record(ev)
	}()
	defaultFormat := g.prov.Kind.wire()
	ep, ok := lookupEndpoint(g.prov.Kind, r.Method, r.URL.Path)
	if !ok {
		ev.Status, ev.Error = http.StatusNotFound, "endpoint not allowed"
		writeError(w, defaultFormat, ev.Status, fmt.Sprintf("voidbox llm gateway: %s %s is not an allowed endpoint for provider %s", ev.Method, ev.Path, g.prov.Kind))
		return
	}
	out, info, status, err := g.readBody(w, r, ep)
	if err != nil {
		ev.Status, ev.Error = status, err.Error()
		writeError(w, ep.format, status, "voidbox llm gateway: "+err.Error())
		return
	}
	ev.Model = truncate(info.model, maxModelBytes)
	query, err := forwardQuery(r.URL.RawQuery)
	if err != nil {
		ev.Status, ev.Error = http.StatusBadRequest, err.Error()
		writeError(w, ep.format, ev.Status, "voidbox llm gateway: "+err.Error())
		return
	}
	red, bearer, account := g.red, "", ""
	if g.prov.Token != nil {
		tok, err := g.prov.Token.Token(r.Context())
		if err != nil {
			ev.Status, ev.Error = http.StatusBadGateway, "login: "+err.Error()
			writeError(w, ep.format, ev.Status, "voidbox llm gateway: "+ev.Error)
			return
		}
		red, bearer = g.red.with(tok), tok
		if as, ok := g.prov.Token.(AccountSource); ok {
			account = as.Account()
		}
	}
	select {
	case g.streams <- struct{}{}: // at most MaxConcurrent requests of the box at the provider
		defer func() { <-g.streams }()
	case <-r.Context().Done():
		ev.Status, ev.Error = statusClientClosed, "the guest hung up while waiting for a free stream"
		return
	}
	if g.budget != nil && ep.usage != usageNone {
		ok, reason := g.budget.admit()
		if !ok {
			ev.Status, ev.Error, ev.OverBudget = http.StatusTooManyRequests, "model budget exhausted: "+reason, true
			writeBudgetError(w, ep.format, "voidbox llm gateway: this box's model budget is exhausted: "+reason)
			return
		}
		// Runs before record (defers unwind in reverse), once ev is final.
		defer func() { g.budget.spent(ev) }()
	}
	ev.Forwarded = true
	resp, err := g.roundTrip(r, ep, out, query, bearer, account)
	if err != nil {
		ev.Status = http.StatusBadGateway
		ev.Error = red.string("provider unreachable: " + err.Error())
		writeError(w, ep.format, ev.Status, fmt.Sprintf("voidbox llm gateway: provider %s at %s: %s", g.prov.Kind, g.prov.base.Redacted(), ev.Error))
		return
	}
	defer resp.Body.Close()
	ev.Status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ev.Error = g.relayError(w, resp, red)
		return
	}
	m, streamed := newMeter(ep, resp.Header.Get("Content-Type"))
	ev.Streamed = streamed
	copyResponseHeader(w.Header(), resp.Header, red)
	w.WriteHeader(resp.StatusCode)
	if err := relayBody(w, resp.Body, m); err != nil {
		ev.Error = red.string(err.Error())
	}
	g.account(&ev, ep, info, m.finish())
}

// readBody reads and prepares the guest body. GET endpoints take none.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, ep endpoint) ([]byte, requestInfo, int, error) {
	if ep.method == http.MethodGet {
		return nil, requestInfo{}, 0, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, requestInfo{}, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", g.maxBody)
		}
		return nil, requestInfo{}, http.StatusBadRequest, fmt.Errorf("reading request body: %w", err)
	}
	out, info, err := prepareBody(body, ep, g.prov.Model)
	if err != nil {
		return nil, requestInfo{}, http.StatusBadRequest, err
	}
	return out, info, 0, nil
}

// forwardQuery re-encodes the guest's query string so it can only ever add
// parameters, never change the path or host.
func forwardQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if len(raw) > maxQueryBytes {
		return "", fmt.Errorf("query string longer than %d bytes", maxQueryBytes)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "", errors.New("malformed query string")
	}
	return vals.Encode(), nil
}

// roundTrip sends the request to the configured provider. The URL is built
// from the provider's base and our endpoint constant only.
// bearer is the login token of a Token provider ("" otherwise).
func (g *Gateway) roundTrip(r *http.Request, ep endpoint, body []byte, query, bearer, account string) (*http.Response, error) {
	target := *g.prov.base
	target.Path = g.prov.base.Path + ep.path
	target.RawQuery = query
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	// The guest's context: a hang-up or box shutdown cancels the upstream call.
	req, err := http.NewRequestWithContext(r.Context(), ep.method, target.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header = outboundHeader(r.Header, g.prov, ep, body != nil, bearer, account)
	// RoundTrip, unlike http.Client, never follows redirects or keeps cookies.
	return g.transport.RoundTrip(req)
}

// relayError passes a provider error through with the key scrubbed from its
// body and headers. It returns a short description for the event.
func (g *Gateway) relayError(w http.ResponseWriter, resp *http.Response, red redactor) string {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	body = red.bytes(body)
	copyResponseHeader(w.Header(), resp.Header, red)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body) // the guest hung up; the event still records the status
	msg := fmt.Sprintf("provider returned %d", resp.StatusCode)
	if t := providerErrorType(body); t != "" {
		msg += " (" + t + ")"
	}
	if err != nil {
		msg += ": reading error body: " + err.Error()
	}
	return msg
}

// relayBody copies the provider's answer to the guest one read at a time,
// flushing after each so a stream reaches the guest as it is produced.
func relayBody(w http.ResponseWriter, body io.Reader, m meter) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			_, _ = m.Write(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("writing to guest: %w", err)
			}
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return fmt.Errorf("flushing to guest: %w", err)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("reading from provider: %w", rerr)
		}
	}
}

// newMeter picks the usage reader for an endpoint and response type.
func newMeter(ep endpoint, contentType string) (meter, bool) {
	mt, _, _ := mime.ParseMediaType(contentType)
	streamed := mt == "text/event-stream" || mt == "application/x-ndjson"
	if ep.usage == usageNone {
		return discardMeter{}, streamed
	}
	switch {
	case ep.format == formatAnthropic && mt == "text/event-stream":
		return newSSEMeter(anthropicEvent), true
	case ep.format == formatAnthropic:
		return &jsonMeter{parse: anthropicMessage}, streamed
	case ep.format == formatOpenAI && mt == "text/event-stream":
		return newSSEMeter(openAIChunk), true
	case ep.format == formatOpenAI:
		return &jsonMeter{parse: openAIMessage}, streamed
	case ep.format == formatResponses && mt == "text/event-stream":
		return newSSEMeter(responsesEvent), true
	case ep.format == formatResponses:
		return &jsonMeter{parse: responsesMessage}, streamed
	default: // Ollama native: NDJSON when streaming, one object otherwise
		return newNDJSONMeter(ollamaLine), streamed
	}
}

// account prices one response and fills the event's usage fields.
func (g *Gateway) account(ev *RequestEvent, ep endpoint, info requestInfo, rep usageReport) {
	if rep.model != "" {
		ev.Model = rep.model
	}
	ev.Tokens = rep.tokens
	if rep.streamError != "" && ev.Error == "" {
		ev.Error = "provider stream error: " + rep.streamError
	}
	if ep.usage == usageNone {
		return
	}
	if !rep.found {
		// A successful generation we could not count: its cost is unknown.
		ev.Priced = g.prov.Kind.local()
		if ev.Error == "" {
			ev.Error = "no usage in provider response"
		}
		return
	}
	if g.prov.Kind.local() {
		return // local models cost nothing
	}
	price, ok := g.prices.lookup(ev.Model)
	ev.Priced = ok
	ev.CostUSD = price.cost(ev.Tokens)
}

// providerErrorType extracts error.type from an Anthropic or OpenAI error
// body, for the event; it is a short enum, never prompt text.
func providerErrorType(body []byte) string {
	var s usageState
	anthropicEvent(&s, body)
	if s.report.streamError == "" {
		openAIChunk(&s, body)
	}
	if s.report.streamError == "error" {
		return ""
	}
	return s.report.streamError
}

// truncate shortens guest- or provider-supplied text for events, keeping
// it valid UTF-8.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, string(utf8.RuneError))
}
