// Package plural writes counts the way people read them: "1 stage",
// "2 stages", "0 stages".
package plural

import "strconv"

// Of returns n followed by noun, with an "s" unless n is exactly 1. It is
// for the regular nouns voidbox counts (stage, level, turn, tool call,
// module); an irregular noun needs its own wording.
func Of(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
