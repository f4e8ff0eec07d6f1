package spec

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// object describes one kind of mapping in the format: the fields it accepts
// and the fields it recognises only to refuse with a reason. The JSON Schema
// has one $defs entry per object, and a test keeps the two in sync.
type object struct {
	name     string            // the $defs name in schema/voidbox.schema.json
	fields   []string          // accepted
	rejected map[string]string // field → why it is refused
	// extensions lets fields named "x-..." through unchecked (and unused):
	// a place for YAML anchors, as in Docker Compose files.
	extensions bool
}

func (o *object) accepts(key string) bool { return slices.Contains(o.fields, key) }

type entry struct{ key, val *yamlNode }

// fields is a decoded mapping: its known keys with their nodes. Unknown,
// refused and duplicate keys were reported when it was built.
type fields struct {
	d    *decoder
	node *yamlNode // the mapping, for "missing field" positions
	path string
	m    map[string]entry
	keys []string // in document order, so that problems are found in order
}

// mapping checks that n is a mapping whose keys obj knows, reporting every
// key it does not; merge keys ("<<: *anchor") are expanded, explicit keys
// winning. A nil obj accepts any key (free-form maps such as env). It returns
// nil when n is not a mapping.
func (d *decoder) mapping(n *yamlNode, path string, obj *object) *fields {
	f := d.anyMapping(n, path)
	if f != nil && obj != nil {
		f.restrict(obj)
	}
	return f
}

// anyMapping is mapping without the key check, for values whose object is
// chosen by the keys present (skills); call restrict once it is known.
func (d *decoder) anyMapping(n *yamlNode, path string) *fields {
	if n = d.resolve(n, path); n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.at(n, path, "want a mapping, got %s", describe(n))
		return nil
	}
	f := &fields{d: d, node: n, path: path, m: map[string]entry{}}
	d.collect(f, n, false)
	return f
}

// restrict reports and drops the keys obj does not accept.
func (f *fields) restrict(obj *object) {
	for _, name := range f.keys {
		e, ok := f.m[name]
		if !ok || obj.accepts(name) {
			continue
		}
		if obj.extensions && strings.HasPrefix(name, "x-") {
			delete(f.m, name)
			continue
		}
		path := join(f.path, name)
		if why, ok := obj.rejected[name]; ok {
			f.d.at(e.key, path, "%s", why)
		} else {
			f.d.at(e.key, path, "unknown field %q%s", name, suggest(name, obj))
		}
		delete(f.m, name)
	}
}

func (d *decoder) collect(f *fields, n *yamlNode, merged bool) {
	var merges []*yamlNode
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.at(k, f.path, "want a field name, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if prev, dup := f.m[k.Value]; dup {
			if !merged { // a merged key is overridden, not duplicated
				d.at(k, join(f.path, k.Value), "duplicate field (first at line %d)", prev.key.Line)
			}
			continue
		}
		f.m[k.Value] = entry{key: k, val: v}
		f.keys = append(f.keys, k.Value)
	}
	for _, m := range merges {
		d.merge(f, m)
	}
}

// merge expands the value of a "<<" key: a mapping or a list of mappings.
func (d *decoder) merge(f *fields, v *yamlNode) {
	path := join(f.path, "<<")
	if v = d.resolve(v, path); v == nil {
		return
	}
	srcs := []*yamlNode{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	for _, s := range srcs {
		if s = d.resolve(s, path); s == nil {
			return
		}
		if s.Kind != yaml.MappingNode {
			d.at(s, path, "a merge key wants a mapping or a list of mappings, got %s", describe(s))
			continue
		}
		d.collect(f, s, true)
	}
}

// suggest proposes the known field closest to a misspelt one, or lists them
// all when none is close.
func suggest(name string, obj *object) string {
	best, bestDist := "", 3
	for _, f := range obj.fields {
		if dist := editDistance(name, f); dist < bestDist {
			best, bestDist = f, dist
		}
	}
	if best == "" && len(name) >= 3 {
		for _, f := range obj.fields {
			if strings.HasPrefix(f, name) || strings.HasPrefix(name, f) {
				best = f
				break
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(obj.fields, ", ") + ")"
}

// editDistance is the Levenshtein distance, for short field names only.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// has reports whether key was given.
func (f *fields) has(key string) bool {
	_, ok := f.m[key]
	return ok
}

// key returns the node of a given key, for positions.
func (f *fields) key(key string) *yamlNode { return f.m[key].key }

// get returns the value of key with aliases resolved, and its path.
func (f *fields) get(key string) (*yamlNode, string, bool) {
	e, ok := f.m[key]
	if !ok {
		return nil, "", false
	}
	path := join(f.path, key)
	n := f.d.resolve(e.val, path)
	return n, path, n != nil
}

// require reports each missing key; it returns whether all were given.
func (f *fields) require(keys ...string) bool {
	ok := true
	for _, k := range keys {
		if !f.has(k) {
			f.d.at(f.node, f.path, "missing required field %q", k)
			ok = false
		}
	}
	return ok
}

// exclusive reports when both a and b are given.
func (f *fields) exclusive(a, b string) bool {
	if f.has(a) && f.has(b) {
		f.d.at(f.key(b), join(f.path, b), "%s and %s are mutually exclusive", a, b)
		return false
	}
	return true
}

func (f *fields) str(key string) (string, bool) {
	n, path, ok := f.get(key)
	if !ok {
		return "", false
	}
	return f.d.str(n, path)
}

func (f *fields) integer(key string, lo, hi int64) (int, bool) {
	n, path, ok := f.get(key)
	if !ok {
		return 0, false
	}
	return f.d.integer(n, path, lo, hi)
}

func (f *fields) boolean(key string) (bool, bool) {
	n, path, ok := f.get(key)
	if !ok {
		return false, false
	}
	return f.d.boolean(n, path)
}

func (f *fields) duration(key string, lo, hi time.Duration) (time.Duration, bool) {
	n, path, ok := f.get(key)
	if !ok {
		return 0, false
	}
	return f.d.duration(n, path, lo, hi)
}

func (f *fields) strList(key string, elem func(*yamlNode, string) (string, bool)) ([]string, bool) {
	n, path, ok := f.get(key)
	if !ok {
		return nil, false
	}
	return f.d.strList(n, path, elem)
}
