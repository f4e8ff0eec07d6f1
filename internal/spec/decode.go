package spec

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxAliasNodes bounds how many nodes alias expansion may add while decoding
// one spec. Anchors make reuse cheap to write, and a "billion laughs"
// document expands exponentially; the budget keeps both the time and the
// memory of decoding linear in the input.
const maxAliasNodes = 100_000

// decoder turns a node tree into the typed model. It never stops at the first
// problem: each method records what is wrong and returns what it could decode,
// with ok=false when the value is unusable.
type decoder struct {
	file string
	dir  string // absolute; relative host paths resolve against it
	// noHost refuses what would read the parsing host: files (skills,
	// kernel, initramfs) and environment values (see ParseOptions).
	noHost bool
	// checkOnly turns a missing host mount directory into a notice
	// (ParseOptions.CheckOnly).
	checkOnly bool
	probs     *problems
	// aliasBudget is how many more nodes aliases may expand to.
	aliasBudget int
	// aliasSpent is set once the budget ran out, so it is reported once.
	aliasSpent bool
	// notices are what a spec says that voidbox accepts with another meaning
	// (seed fields: mode: mock, credential_proxy: true), said to the user.
	notices []*Error
}

// note records a notice at n: the spec is valid, but the user should know.
func (d *decoder) note(n *yamlNode, path, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.notices = append(d.notices, &Error{File: d.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func newDecoder(file, dir string, probs *problems) *decoder {
	return &decoder{file: file, dir: dir, probs: probs, aliasBudget: maxAliasNodes}
}

// at records a problem at node n (nil: the whole file).
func (d *decoder) at(n *yamlNode, path, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.probs.add(line, col, path, fmt.Sprintf(format, args...))
}

func (d *decoder) pos(n *yamlNode) Pos {
	if n == nil {
		return Pos{File: d.file}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// resolve follows an alias, charging the size of what it expands to against
// the budget. It returns nil (after reporting once) when the budget is gone.
func (d *decoder) resolve(n *yamlNode, path string) *yamlNode {
	for n != nil && n.Kind == yaml.AliasNode {
		cost := subtreeSize(n.Alias, d.aliasBudget+1)
		if cost > d.aliasBudget {
			if !d.aliasSpent {
				d.at(n, path, "aliases expand to more than %d nodes", maxAliasNodes)
				d.aliasSpent = true
			}
			d.aliasBudget = 0
			return nil
		}
		d.aliasBudget -= cost
		n = n.Alias
	}
	return n
}

// subtreeSize counts the nodes n expands to, following aliases, and stops
// counting past limit so that the walk itself stays bounded.
func subtreeSize(n *yamlNode, limit int) int {
	count := 0
	stack := []*yamlNode{n}
	for len(stack) > 0 && count <= limit {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top == nil {
			continue
		}
		count++
		if top.Kind == yaml.AliasNode {
			stack = append(stack, top.Alias)
			continue
		}
		stack = append(stack, top.Content...)
	}
	return count
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yamlNode) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	default:
		return "a value tagged " + tag
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// str decodes a string scalar. Numbers and booleans are not strings: the
// format is strict, and quoting makes them strings.
func (d *decoder) str(n *yamlNode, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.at(n, path, "want a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// word decodes a scalar that ends up as a string whatever its YAML type, such
// as an argv element or an environment value, where `- 10` or `DEBUG: 1`
// plainly mean the text written.
func (d *decoder) word(n *yamlNode, path string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool":
			return n.Value, true
		}
	}
	d.at(n, path, "want a string, got %s", describe(n))
	return "", false
}

// integer decodes an integer in [lo, hi].
func (d *decoder) integer(n *yamlNode, path string, lo, hi int64) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.at(n, path, "want an integer, got %s", describe(n))
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		d.at(n, path, "integer %s is out of range", n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		d.at(n, path, "%d is out of range [%d, %d]", v, lo, hi)
		return 0, false
	}
	return int(v), true
}

// number decodes an integer or decimal number in [lo, hi].
func (d *decoder) number(n *yamlNode, path string, lo, hi float64) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		d.at(n, path, "want a number, got %s", describe(n))
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || v != v {
		d.at(n, path, "%s is not a number", n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		d.at(n, path, "%v is out of range [%v, %v]", v, lo, hi)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolean(n *yamlNode, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.at(n, path, "want true or false, got %s", describe(n))
		return false, false
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		// yaml.v3 also tags "True" and "TRUE" as booleans.
		var b bool
		if n.Decode(&b) != nil {
			d.at(n, path, "want true or false, got %q", n.Value)
			return false, false
		}
		v = b
	}
	return v, true
}

// duration decodes a Go duration string such as "30s" or "1m30s", in
// [lo, hi].
func (d *decoder) duration(n *yamlNode, path string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || !durationRE.MatchString(s) {
		d.at(n, path, "invalid duration %q: want a number with a unit, like \"30s\" or \"5m\"", s)
		return 0, false
	}
	if v < lo || v > hi {
		d.at(n, path, "duration %s is out of range [%s, %s]", v, lo, hi)
		return 0, false
	}
	return v, true
}

// seq returns the elements of a list, with aliases resolved; elements whose
// alias could not be expanded are dropped (already reported).
func (d *decoder) seq(n *yamlNode, path string) ([]*yamlNode, bool) {
	if n.Kind != yaml.SequenceNode {
		d.at(n, path, "want a list, got %s", describe(n))
		return nil, false
	}
	out := make([]*yamlNode, len(n.Content))
	for i, c := range n.Content {
		out[i] = d.resolve(c, index(path, i))
	}
	return out, true
}

// strList decodes a list whose elements elem decodes.
// The result is non-nil when n is a list, even an empty one.
func (d *decoder) strList(n *yamlNode, path string, elem func(*yamlNode, string) (string, bool)) ([]string, bool) {
	items, ok := d.seq(n, path)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, c := range items {
		if c == nil {
			ok = false
			continue
		}
		s, good := elem(c, index(path, i))
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// maxInt is the upper bound for integers with no natural limit.
const maxInt = math.MaxInt32
