package llm

import "testing"

func TestPriceLookup(t *testing.T) {
	tab := priceTable(DefaultPrices())
	for model, want := range map[string]float64{
		"claude-sonnet-4-5":          3,
		"claude-sonnet-4-5-20250929": 3,
		"claude-haiku-4-5-latest":    1,
		"gpt-4o":                     2.5,
		"gpt-4o-2024-08-06":          2.5,
		"gpt-4o-mini":                0.15,
		"gpt-4o-mini-2024-07-18":     0.15,
		"gpt-5-codex":                1.25,
	} {
		p, ok := tab.lookup(model)
		if !ok || p.Input != want {
			t.Errorf("%s: %+v %v, want input %v", model, p, ok, want)
		}
	}
	// Only snapshot suffixes extend a name: these are other models.
	for _, model := range []string{"gpt-4o-audio-preview", "claude-sonnet-4-5-fast", "gpt-5-pro", "", "claude-sonnet-5"} {
		if p, ok := tab.lookup(model); ok {
			t.Errorf("%q priced as %+v", model, p)
		}
	}
}

func TestPriceCost(t *testing.T) {
	p := anthropicPrice(3, 15)
	got := p.cost(Tokens{InputTokens: 1e6, OutputTokens: 1e6, CacheReadTokens: 1e6, CacheWriteTokens: 1e6})
	if want := 3 + 15 + 0.3 + 3.75; got != want {
		t.Fatalf("cost %v, want %v", got, want)
	}
}
