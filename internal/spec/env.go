package spec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrHostEnvMissing is returned by Env.Resolve when a variable that is to be
// copied from the host environment is not set there.
var ErrHostEnvMissing = errors.New("host environment variable not set")

// EnvValue is one environment variable of a sandbox. In YAML, a value of ""
// means "copy this variable from the host environment at run time"
// (FromHost); any other value is used as written.
type EnvValue struct {
	Value    string
	FromHost bool
}

// Env is the environment given to commands in a sandbox, by variable name.
type Env map[string]EnvValue

// Names returns the variable names, sorted.
func (e Env) Names() []string { return slices.Sorted(maps.Keys(e)) }

// merged returns a copy of e with over's variables on top.
func (e Env) merged(over Env) Env {
	if len(e) == 0 && len(over) == 0 {
		return nil
	}
	out := make(Env, len(e)+len(over))
	maps.Copy(out, e)
	maps.Copy(out, over)
	return out
}

// Resolve returns the environment as "NAME=value" strings sorted by name,
// taking FromHost variables from lookup (normally os.LookupEnv). Variables
// missing from the host are reported together, wrapping ErrHostEnvMissing.
func (e Env) Resolve(lookup func(string) (string, bool)) ([]string, error) {
	out := make([]string, 0, len(e))
	var missing []string
	for _, name := range e.Names() {
		v := e[name]
		if v.FromHost {
			hv, ok := lookup(name)
			if !ok {
				missing = append(missing, name)
				continue
			}
			v.Value = hv
		}
		out = append(out, name+"="+v.Value)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrHostEnvMissing, strings.Join(missing, ", "))
	}
	return out, nil
}

// env decodes a mapping of variable names to values.
func (d *decoder) env(n *yamlNode, path string) (Env, bool) {
	f := d.mapping(n, path, nil)
	if f == nil {
		return nil, false
	}
	out := make(Env, len(f.m))
	ok := true
	for _, name := range f.keys {
		e := f.m[name]
		vpath := join(path, name)
		if err := checkEnvName(name); err != nil {
			d.at(e.key, vpath, "%v", err)
			ok = false
			continue
		}
		v := d.resolve(e.val, vpath)
		if v == nil {
			ok = false
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			d.at(v, vpath, `want a string, got null (write "" to copy the variable from the host environment)`)
			ok = false
			continue
		}
		s, good := d.word(v, vpath)
		if !good {
			ok = false
			continue
		}
		if s == "" && d.noHost {
			d.at(v, vpath, "a spec sent to a daemon cannot copy the daemon's environment: give the value")
			ok = false
			continue
		}
		out[name] = EnvValue{Value: s, FromHost: s == ""}
	}
	return out, ok
}
