package llm

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// DefaultMaxRequestBytes caps a guest request body; larger bodies get 413.
const DefaultMaxRequestBytes = 8 << 20

// DefaultMaxConcurrent caps the requests of one gateway at the provider at
// once (streams included); more wait for a free slot.
const DefaultMaxConcurrent = 8

// Options tunes a Gateway. The zero value is ready to use.
type Options struct {
	// Prices adds to or replaces entries of DefaultPrices, keyed by model.
	Prices map[string]Price
	// OnRequest, if set, is called once per guest request after the
	// response is complete, on the request's goroutine: it must be safe for
	// concurrent use and should return quickly.
	OnRequest func(RequestEvent)
	// Transport sends requests to the provider. Default: a clone of
	// http.DefaultTransport (which honours the host's HTTPS_PROXY). Redirects
	// are never followed whatever the transport: a 3xx goes back to the guest.
	Transport http.RoundTripper
	// MaxRequestBytes caps a guest body. Default DefaultMaxRequestBytes.
	MaxRequestBytes int64
	// LookupEnv reads the key's environment variable. Default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Budget, if set, caps the box's model use (shared by its attempts'
	// gateways): a generation request past a limit gets a 429.
	Budget *Budget
	// MaxConcurrent caps requests in flight to the provider. Default
	// DefaultMaxConcurrent.
	MaxConcurrent int
}

// Gateway is the host side of one box's LLM endpoint: an http.Handler that
// serves the guest's tunnelled requests, forwards the allowlisted ones to
// the configured provider with the host's credential, streams the answer
// back, and counts tokens and cost.
//
// Promises, each tested:
//   - requests go only to Provider.BaseURL; the guest's Host, absolute-form
//     URI, X-Forwarded-* and path never pick the destination;
//   - the key is added here and never appears in a response, error or event;
//     credential-like headers from the guest are dropped;
//   - only the allowlisted endpoints are reachable (404 otherwise, in the
//     provider's error format);
//   - streamed responses pass through byte for byte, flushed per read;
//   - a streaming OpenAI-format request is forwarded with
//     stream_options.include_usage = true so its tokens are always counted;
//     the client may see one usage-only chunk it did not ask for;
//   - a request naming no model gets Provider.Model.
//
// The http.Server that feeds it must have no WriteTimeout shorter than the
// longest stream a box may produce.
type Gateway struct {
	prov      resolved
	red       redactor
	prices    priceTable
	transport http.RoundTripper
	ownsTr    bool
	maxBody   int64
	onRequest func(RequestEvent)
	budget    *Budget       // nil: no limits
	streams   chan struct{} // a slot per request in flight to the provider

	// mu guards total.
	mu    sync.Mutex
	total Usage // guarded by mu

	closeOnce sync.Once
}

// NewGateway validates p (resolving its key on the host) and opts. A
// missing key is an error naming the environment variable, never its value.
func NewGateway(p Provider, opts Options) (*Gateway, error) {
	var errs []error
	rp, err := p.resolve(opts.LookupEnv)
	if err != nil {
		errs = append(errs, err)
	}
	prices := priceTable(DefaultPrices())
	for model, price := range opts.Prices {
		if err := price.validate(); err != nil {
			errs = append(errs, fmt.Errorf("prices[%q]: %w", model, err))
		}
		prices[model] = price
	}
	if opts.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("max concurrent: %w: %d is negative", ErrInvalid, opts.MaxConcurrent))
	}
	if opts.Budget != nil {
		if err := opts.Budget.Limits().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("limits: %w", err))
		}
	}
	if opts.MaxRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("max request bytes: %w: %d is negative", ErrInvalid, opts.MaxRequestBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("llm gateway: %w", err)
	}
	g := &Gateway{
		prov:      rp,
		red:       redactor{key: rp.APIKey.Reveal()},
		prices:    prices,
		transport: opts.Transport,
		maxBody:   opts.MaxRequestBytes,
		onRequest: opts.OnRequest,
		budget:    opts.Budget,
		streams:   make(chan struct{}, cmp.Or(opts.MaxConcurrent, DefaultMaxConcurrent)),
	}
	if g.transport == nil {
		g.transport = http.DefaultTransport.(*http.Transport).Clone()
		g.ownsTr = true
	}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxRequestBytes
	}
	return g, nil
}

// Provider returns the resolved provider; its APIKey prints redacted.
func (g *Gateway) Provider() Provider { return g.prov.Provider }

// Usage returns the running totals. A request is added when its handler
// returns, which can be just after the client has read the stream's end
// marker: shut the serving http.Server down (it waits for handlers) before
// reading final totals.
func (g *Gateway) Usage() Usage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// Close drops idle upstream connections of a transport the gateway made.
// In-flight requests are ended by their own contexts. Safe to call twice.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		if t, ok := g.transport.(*http.Transport); ok && g.ownsTr {
			t.CloseIdleConnections()
		}
	})
	return nil
}

// record adds a finished request to the totals and reports it.
func (g *Gateway) record(ev RequestEvent) {
	ev.Error = g.red.string(ev.Error)
	g.mu.Lock()
	if ev.Forwarded {
		g.total.Requests++
		g.total.add(ev.Tokens)
		g.total.CostUSD += ev.CostUSD
	}
	if ev.Forwarded && !ev.Priced {
		g.total.Unpriced++
	}
	g.mu.Unlock()
	if g.onRequest != nil {
		g.onRequest(ev)
	}
}
