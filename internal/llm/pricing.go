package llm

import (
	"fmt"
	"regexp"
	"strings"
)

// Price is a model's list price in USD per million tokens. A field left zero
// costs zero: an override that omits cache prices makes cached tokens free.
type Price struct {
	Input      float64
	Output     float64
	CacheRead  float64
	CacheWrite float64
}

func (p Price) cost(t Tokens) float64 {
	return (float64(t.InputTokens)*p.Input +
		float64(t.OutputTokens)*p.Output +
		float64(t.CacheReadTokens)*p.CacheRead +
		float64(t.CacheWriteTokens)*p.CacheWrite) / 1e6
}

func (p Price) validate() error {
	if p.Input < 0 || p.Output < 0 || p.CacheRead < 0 || p.CacheWrite < 0 {
		return fmt.Errorf("%w: negative price", ErrInvalid)
	}
	return nil
}

// anthropicPrice applies Anthropic's cache multipliers (5-minute cache
// write 1.25×, cache read 0.1× the input price).
func anthropicPrice(in, out float64) Price {
	return Price{Input: in, Output: out, CacheRead: in / 10, CacheWrite: in * 1.25}
}

// DefaultPrices returns a fresh copy of the built-in price table: public
// list prices (standard tier, prompts ≤ 200k tokens) as published in early
// 2026. Models missing here, including newer ones, count as unpriced (cost
// 0, flagged); Options.Prices adds or replaces entries.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		"claude-opus-4-6":   anthropicPrice(5, 25),
		"claude-opus-4-5":   anthropicPrice(5, 25),
		"claude-opus-4-1":   anthropicPrice(15, 75),
		"claude-opus-4-0":   anthropicPrice(15, 75),
		"claude-opus-4":     anthropicPrice(15, 75),
		"claude-sonnet-4-6": anthropicPrice(3, 15),
		"claude-sonnet-4-5": anthropicPrice(3, 15),
		"claude-sonnet-4-0": anthropicPrice(3, 15),
		"claude-sonnet-4":   anthropicPrice(3, 15),
		"claude-haiku-4-5":  anthropicPrice(1, 5),
		"claude-3-5-haiku":  anthropicPrice(0.8, 4),

		// OpenAI bills cached prompt tokens at a per-model discount and
		// has no separate cache-write price.
		"gpt-5":        {Input: 1.25, Output: 10, CacheRead: 0.125},
		"gpt-5-codex":  {Input: 1.25, Output: 10, CacheRead: 0.125},
		"gpt-5-mini":   {Input: 0.25, Output: 2, CacheRead: 0.025},
		"gpt-5-nano":   {Input: 0.05, Output: 0.40, CacheRead: 0.005},
		"gpt-4.1":      {Input: 2, Output: 8, CacheRead: 0.50},
		"gpt-4.1-mini": {Input: 0.40, Output: 1.60, CacheRead: 0.10},
		"gpt-4.1-nano": {Input: 0.10, Output: 0.40, CacheRead: 0.025},
		"gpt-4o":       {Input: 2.50, Output: 10, CacheRead: 1.25},
		"gpt-4o-mini":  {Input: 0.15, Output: 0.60, CacheRead: 0.075},
		"o3":           {Input: 2, Output: 8, CacheRead: 0.50},
		"o4-mini":      {Input: 1.10, Output: 4.40, CacheRead: 0.275},
	}
}

// snapshotSuffix matches the dated or "-latest" suffix providers append to
// a model family name (claude-sonnet-4-5-20250929, gpt-4o-2024-08-06).
var snapshotSuffix = regexp.MustCompile(`^-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$`)

// priceTable looks up prices by model name.
type priceTable map[string]Price

// lookup finds the price of model: an exact entry, else the entry that
// model extends by a snapshot suffix only. Other suffixes never match, so
// "gpt-4o-mini-…" is never priced as "gpt-4o".
func (t priceTable) lookup(model string) (Price, bool) {
	if p, ok := t[model]; ok {
		return p, true
	}
	for name, p := range t {
		if rest, ok := strings.CutPrefix(model, name); ok && snapshotSuffix.MatchString(rest) {
			return p, true
		}
	}
	return Price{}, false
}
