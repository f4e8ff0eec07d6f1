package llm

import (
	"fmt"
	"math"
	"sync"
)

// Limits caps what one box may spend on its model, over all its attempts.
// A zero field is no limit.
//
// Each is checked before a generation request is forwarded: the request
// that finds a limit reached is refused (429, in the provider's error
// format, with x-should-retry: false). Token and cost limits are therefore
// overshot by at most what the requests in flight at that moment use.
type Limits struct {
	MaxRequests int64
	// MaxInputTokens counts the whole prompt: input, cache reads and cache
	// writes.
	MaxInputTokens  int64
	MaxOutputTokens int64
	// MaxCostUSD is enforced on the gateway's prices. A request whose cost
	// is unknown (a model without a price) closes the budget: past it the
	// limit could not be kept.
	MaxCostUSD float64
}

// IsZero reports whether l sets no limit.
func (l Limits) IsZero() bool { return l == Limits{} }

// Validate refuses negative or non-finite limits.
func (l Limits) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_requests", l.MaxRequests}, {"max_input_tokens", l.MaxInputTokens}, {"max_output_tokens", l.MaxOutputTokens}} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s is negative (%d)", ErrInvalid, f.name, f.v)
		}
	}
	if l.MaxCostUSD < 0 || math.IsNaN(l.MaxCostUSD) || math.IsInf(l.MaxCostUSD, 0) {
		return fmt.Errorf("%w: max_cost_usd must be a non-negative number (%v)", ErrInvalid, l.MaxCostUSD)
	}
	return nil
}

// Budget is one box's spending against its Limits, shared by the gateways
// of its attempts. Safe for concurrent use.
type Budget struct {
	limits Limits

	mu       sync.Mutex
	admitted int64  // generation requests forwarded, in flight included
	used     Usage  // of the finished ones
	refused  int64  // requests turned away
	reason   string // why the first was
}

// NewBudget starts an empty budget. Precondition: l.Validate() == nil.
func NewBudget(l Limits) *Budget { return &Budget{limits: l} }

// Limits returns the budget's limits.
func (b *Budget) Limits() Limits { return b.limits }

// admit reserves one generation request, or says which limit refuses it.
func (b *Budget) admit() (ok bool, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, u := b.limits, b.used
	switch {
	case l.MaxRequests > 0 && b.admitted >= l.MaxRequests:
		reason = fmt.Sprintf("max_requests (%d) reached", l.MaxRequests)
	case l.MaxInputTokens > 0 && u.InputTokens+u.CacheReadTokens+u.CacheWriteTokens >= l.MaxInputTokens:
		reason = fmt.Sprintf("max_input_tokens (%d) reached: %d used", l.MaxInputTokens, u.InputTokens+u.CacheReadTokens+u.CacheWriteTokens)
	case l.MaxOutputTokens > 0 && u.OutputTokens >= l.MaxOutputTokens:
		reason = fmt.Sprintf("max_output_tokens (%d) reached: %d used", l.MaxOutputTokens, u.OutputTokens)
	case l.MaxCostUSD > 0 && u.CostUSD >= l.MaxCostUSD:
		reason = fmt.Sprintf("max_cost_usd (%g) reached: $%.4f used", l.MaxCostUSD, u.CostUSD)
	case l.MaxCostUSD > 0 && u.Unpriced > 0:
		reason = fmt.Sprintf("max_cost_usd (%g) cannot be kept: the cost of %d earlier request(s) is unknown (no price for the model)", l.MaxCostUSD, u.Unpriced)
	default:
		b.admitted++
		return true, ""
	}
	b.refused++
	if b.reason == "" {
		b.reason = reason
	}
	return false, reason
}

// spent adds a finished admitted request's usage.
func (b *Budget) spent(ev RequestEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used.Requests++
	b.used.add(ev.Tokens)
	b.used.CostUSD += ev.CostUSD
	if !ev.Priced {
		b.used.Unpriced++
	}
}

// Used is the usage of the admitted requests that have finished.
func (b *Budget) Used() Usage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Exhausted reports how many requests the budget refused and why the
// first one was ("" and 0: none).
func (b *Budget) Exhausted() (reason string, refused int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reason, b.refused
}
