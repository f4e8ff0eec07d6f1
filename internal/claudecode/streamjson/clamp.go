package streamjson

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/voidbox/voidbox/internal/event"
)

func names(in []string) []string {
	out := make([]string, 0, min(len(in), maxList))
	for _, s := range in {
		if len(out) == maxList {
			break
		}
		out = append(out, event.Truncate(s, 128))
	}
	return out
}

func firstModel(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return ""
	}
	return event.Truncate(keys[0], event.MaxField)
}

func parseTime(s string) time.Time {
	if s == "" || len(s) > 64 {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func clampTokens(v int64) int64 { return min(max(v, 0), maxTokens) }

func clampCost(v float64) float64 {
	if !(v > 0) { // also NaN
		return 0
	}
	return min(v, maxCost)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
