package netpolicy

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one bad entry, named by its path in the policy
// (`allow[2]`, `hosts.example.test`, `limits.max_flows`), so a spec parser
// can add the file, line and column of that path.
type FieldError struct {
	Path  string
	Value string // the entry as written, quoted in the message; may be empty
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Path + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %q: %s", e.Path, e.Value, e.Msg)
}

// Parse turns the plain value a spec or JSON decoder produces into a policy:
// nil or false is ModeNone, true is ModePublic, and a map is an allowlist
// with the keys allow, deny, host_ports, hosts and limits. Lists may be []any
// or []string, numbers int, int64, uint16 or float64 (as JSON gives them).
// Every bad entry is reported, each as a *FieldError, joined.
func Parse(raw any) (*Policy, error) {
	switch v := raw.(type) {
	case nil:
		return &Policy{}, nil
	case bool:
		if v {
			return Public(), nil
		}
		return &Policy{}, nil
	case map[string]any:
		return parseMap(v)
	}
	return nil, &FieldError{Path: "network", Msg: "want true, false or a map, got " + kind(raw)}
}

func parseMap(m map[string]any) (*Policy, error) {
	p := &Policy{Mode: ModeAllowlist}
	var errs []error
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // errors in a stable order
	for _, k := range keys {
		v := m[k]
		switch k {
		case "allow":
			p.Allow = parseRules(k, v, &errs)
		case "deny":
			p.Deny = parseRules(k, v, &errs)
		case "host_ports":
			p.HostPorts = parseHostPorts(k, v, &errs)
		case "hosts":
			p.Hosts = parseHosts(k, v, &errs)
		case "limits":
			p.Limits = parseLimits(k, v, &errs)
		default:
			errs = append(errs, &FieldError{Path: k, Msg: "unknown field (want allow, deny, host_ports, hosts or limits)"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// list returns v as a list of any, or reports it.
func list(path string, v any, errs *[]error) []any {
	switch l := v.(type) {
	case nil:
		return nil
	case []any:
		return l
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	*errs = append(*errs, &FieldError{Path: path, Msg: "want a list, got " + kind(v)})
	return nil
}

func parseRules(path string, v any, errs *[]error) []Rule {
	var out []Rule
	for i, e := range list(path, v, errs) {
		p := fmt.Sprintf("%s[%d]", path, i)
		s, ok := e.(string)
		if !ok {
			*errs = append(*errs, &FieldError{Path: p, Msg: "want a string, got " + kind(e)})
			continue
		}
		r, err := ParseRule(s)
		if err != nil {
			*errs = append(*errs, &FieldError{Path: p, Value: s, Msg: err.Error()})
			continue
		}
		out = append(out, r)
	}
	return out
}

func parseHostPorts(path string, v any, errs *[]error) []uint16 {
	var out []uint16
	for i, e := range list(path, v, errs) {
		p := fmt.Sprintf("%s[%d]", path, i)
		n, err := integer(e)
		if err == nil && (n < 1 || n > 65535) {
			err = errors.New("port must be 1-65535")
		}
		if err != nil {
			*errs = append(*errs, &FieldError{Path: p, Value: fmt.Sprint(e), Msg: err.Error()})
			continue
		}
		out = append(out, uint16(n))
	}
	return out
}

func parseHosts(path string, v any, errs *[]error) map[string]netip.Addr {
	var m map[string]any
	switch h := v.(type) {
	case nil:
		return nil
	case map[string]any:
		m = h
	case map[string]string:
		m = make(map[string]any, len(h))
		for k, s := range h {
			m[k] = s
		}
	default:
		*errs = append(*errs, &FieldError{Path: path, Msg: "want a map of name to address, got " + kind(v)})
		return nil
	}
	out := make(map[string]netip.Addr, len(m))
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := path + "." + k
		name, err := NormalizeName(k)
		if err != nil {
			*errs = append(*errs, &FieldError{Path: p, Value: k, Msg: err.Error()})
			continue
		}
		s, ok := m[k].(string)
		if !ok {
			*errs = append(*errs, &FieldError{Path: p, Msg: "want an IP address, got " + kind(m[k])})
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			*errs = append(*errs, &FieldError{Path: p, Value: s, Msg: "not an IP address"})
			continue
		}
		if _, dup := out[name]; dup {
			*errs = append(*errs, &FieldError{Path: p, Value: k, Msg: "name mapped twice"})
			continue
		}
		out[name] = addr.Unmap()
	}
	return out
}

func parseLimits(path string, v any, errs *[]error) Limits {
	m, ok := v.(map[string]any)
	if !ok {
		if v != nil {
			*errs = append(*errs, &FieldError{Path: path, Msg: "want a map, got " + kind(v)})
		}
		return Limits{}
	}
	var l Limits
	for k, e := range m {
		p := path + "." + k
		n, err := integer(e)
		if err == nil && n < 1 {
			err = errors.New("must be at least 1")
		}
		switch {
		case err != nil:
		case k == "conns_per_second":
			if n > maxLimit {
				err = fmt.Errorf("at most %d", maxLimit)
			}
			l.ConnsPerSecond = int(n)
		case k == "max_flows":
			if n > maxLimit {
				err = fmt.Errorf("at most %d", maxLimit)
			}
			l.MaxFlows = int(n)
		case k == "max_bytes":
			l.MaxBytes = n
		default:
			err = errors.New("unknown field (want conns_per_second, max_flows or max_bytes)")
		}
		if err != nil {
			*errs = append(*errs, &FieldError{Path: p, Value: fmt.Sprint(e), Msg: err.Error()})
		}
	}
	return l
}

// integer accepts the integer types decoders produce, a float64 holding an
// integer (JSON), or a decimal string.
func integer(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case uint16:
		return int64(n), nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, errors.New("number too large")
		}
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, errors.New("want an integer")
		}
		return int64(n), nil
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, errors.New("want an integer")
		}
		return i, nil
	}
	return 0, errors.New("want an integer, got " + kind(v))
}

// kind names a decoded value's type the way a spec author thinks of it.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case int, int64, uint16, uint64, float64:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
}
