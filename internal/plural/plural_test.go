package plural

import "testing"

func TestOf(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{
		{0, "stage", "0 stages"},
		{1, "stage", "1 stage"},
		{2, "tool call", "2 tool calls"},
		{-1, "level", "-1 levels"},
	} {
		if got := Of(c.n, c.noun); got != c.want {
			t.Errorf("Of(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}
