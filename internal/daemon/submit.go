package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/llm"
	"github.com/voidbox/voidbox/internal/runspec"
	"github.com/voidbox/voidbox/internal/spec"
	"github.com/voidbox/voidbox/internal/store"
)

// RemotePolicy is what a spec sent to the daemon may name beyond its own
// text. Such a spec never reads the daemon host's files or environment
// (spec.ParseOptions.NoHost); it may use the daemon's provider keys, but
// only to send them to the provider's own endpoint or an allowed one.
type RemotePolicy struct {
	// URLs lists the origins (scheme://host[:port]) a spec may set as
	// llm.base_url or observe.otlp_endpoint. Without it, an llm block
	// keeps its provider's default endpoint and observe keeps the
	// daemon's own exporter configuration.
	URLs []string
	// KeyEnvs lists the variables a spec may name in llm.api_key_env
	// besides its provider's default one (ANTHROPIC_API_KEY,
	// OPENAI_API_KEY).
	KeyEnvs []string
}

// submission is a run request the daemon accepted: the parsed spec and its
// runnable form, with what the store keeps.
type submission struct {
	spec     *spec.Spec
	job      runspec.Job
	name     string
	kind     string
	specText []byte
	input    []byte
	key      string
}

// maxKeyBytes bounds an Idempotency-Key.
const maxKeyBytes = 256

// parseSubmission checks a POST /v1/runs request: the body (already
// decoded), the spec (problems with line:col, 400 invalid_spec) and the
// idempotency key.
func (d *Daemon) parseSubmission(req apiv1.CreateRun, key string) (*submission, error) {
	if len(key) > maxKeyBytes || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return nil, apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "Idempotency-Key",
			"want at most %d printable ASCII characters", maxKeyBytes)
	}
	if req.Spec == "" {
		return nil, apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "spec", "missing: give the spec's text")
	}
	if len(req.Spec) > spec.MaxSize {
		return nil, apiserver.Errorf(http.StatusRequestEntityTooLarge, apiserver.CodeTooLarge, "spec",
			"over the %d KiB spec limit", spec.MaxSize>>10)
	}
	input := []byte(req.Input)
	if req.InputBase64 != nil {
		if req.Input != "" {
			return nil, apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "input_base64",
				"give input or input_base64, not both")
		}
		input = req.InputBase64
	}
	if len(input) > store.MaxSpecBytes {
		return nil, apiserver.Errorf(http.StatusRequestEntityTooLarge, apiserver.CodeTooLarge, "input",
			"over %d bytes", store.MaxSpecBytes)
	}
	name := specName(req.SpecName)
	s, err := spec.ParseWith(name, []byte(req.Spec), spec.ParseOptions{NoHost: true})
	if err == nil {
		err = d.cfg.Remote.check(s)
	}
	if err == nil && s.Kind == spec.KindSandbox {
		err = fmt.Errorf("%s: kind sandbox describes a VM, not a run: create it with POST /v1/sandboxes", name)
	}
	var job runspec.Job
	if err == nil {
		// NoHost left nothing to read from the environment.
		job, err = runspec.Build(s, func(string) (string, bool) { return "", false })
	}
	if err == nil {
		_, err = job.Plan()
	}
	if err != nil {
		return nil, apiserver.Errorf(http.StatusBadRequest, apiv1.CodeInvalidSpec, "spec", "%s", err)
	}
	if req.Input == "" && req.InputBase64 == nil {
		input = nil
	}
	return &submission{spec: s, job: job, name: s.Name, kind: string(s.Kind), specText: []byte(req.Spec),
		input: input, key: key}, nil
}

// specName is the name a submitted spec is parsed under: the base of what
// the client said, or "spec". It only labels positions and picks the syntax.
func specName(s string) string {
	s = filepath.Base(strings.ReplaceAll(s, "\\", "/"))
	if s == "." || s == "/" || s == "" || len(s) > 128 || strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r))
	}) {
		return "spec"
	}
	return s
}

// check reports, with their positions, what s names that p does not allow.
func (p RemotePolicy) check(s *spec.Spec) error {
	var errs []error
	at := func(pos spec.Pos, path, format string, args ...any) {
		errs = append(errs, &spec.Error{File: pos.File, Line: pos.Line, Col: pos.Col, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	for _, b := range s.Boxes() {
		if b.Prompt == "" && len(b.Exec) > 0 {
			continue // a command box has no model
		}
		l := b.LLM
		path := fmt.Sprintf("box %q llm", b.Name)
		if l.BaseURL != "" && !p.allowsURL(l.BaseURL) {
			at(l.Pos, path+".base_url", "%s is not an endpoint this daemon sends provider keys to (serve --allow-url)", l.BaseURL)
		}
		if l.APIKeyEnv != "" && l.APIKeyEnv != llm.DefaultKeyEnv(llm.Kind(providerKind(l.Provider))) &&
			!slices.Contains(p.KeyEnvs, l.APIKeyEnv) {
			at(l.Pos, path+".api_key_env", "%s is not a key variable this daemon lends (serve --allow-key-env)", l.APIKeyEnv)
		}
	}
	if o := s.Observe; o != nil && o.Endpoint != "" && !p.allowsURL(o.Endpoint) {
		at(o.Pos, "observe.otlp_endpoint", "%s is not an endpoint this daemon exports to (serve --allow-url)", o.Endpoint)
	}
	return errors.Join(errs...)
}

// providerKind maps a spec provider to the gateway's kind name.
func providerKind(p spec.Provider) string {
	if p == spec.ProviderClaude {
		return string(llm.KindAnthropic)
	}
	return string(p)
}

// allowsURL: u's origin is one of p.URLs.
func (p RemotePolicy) allowsURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	for _, a := range p.URLs {
		au, err := url.Parse(a)
		if err == nil && au.Scheme == u.Scheme && au.Host == u.Host {
			return true
		}
	}
	return false
}
