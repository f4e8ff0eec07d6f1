package llm

import "log/slog"

// redacted is what a Secret prints as, everywhere.
const redacted = "[REDACTED]"

// Secret is a credential that must never be printed. Every formatting path
// (fmt verbs, %#v, JSON, slog) shows "[REDACTED]"; only Reveal returns the
// value, and only the gateway's outbound header code calls it.
type Secret string

// String implements fmt.Stringer so %v, %s and %q never show the value.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer so %#v never shows the value.
func (s Secret) GoString() string { return `llm.Secret("` + redacted + `")` }

// MarshalText implements encoding.TextMarshaler (and so JSON and YAML output).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

// Empty reports whether no credential is set.
func (s Secret) Empty() bool { return s == "" }
