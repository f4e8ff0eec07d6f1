package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

// sandboxJSON is Sandbox's JSON form (the daemon's sandbox API, stored
// sandbox configs): the spec's field names, the timeout as a Go duration
// string ("30s"). A field added to Sandbox needs its name here too
// (TestJSONNamesEveryField).
type sandboxJSON struct {
	MemoryMiB int               `json:"memory_mb,omitempty"`
	VCPUs     int               `json:"vcpus,omitempty"`
	DiskMiB   int               `json:"disk_mb,omitempty"`
	Timeout   string            `json:"timeout,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	// A pointer keeps nil (no allowlist: absent or null) apart from []
	// (nothing allowed).
	AllowedCommands *[]string   `json:"allowed_commands,omitempty"`
	Limits          limitsJSON  `json:"limits,omitzero"`
	OutputLimit     int64       `json:"output_limit,omitempty"`
	Image           string      `json:"image,omitempty"`
	Mounts          []mountJSON `json:"mounts,omitempty"`
	AttachShell     bool        `json:"attach_shell,omitempty"`
	// Network is the spec's form (true, or an allowlist map), Ports its
	// docker -p strings; CACerts are PEM text, not host files.
	Network  any      `json:"network,omitempty"`
	Ports    []string `json:"ports,omitempty"`
	CACerts  string   `json:"ca_certificates_pem,omitempty"`
	Snapshot string   `json:"snapshot,omitempty"`
}

type limitsJSON struct {
	Processes  uint64 `json:"processes,omitempty"`
	OpenFiles  uint64 `json:"open_files,omitempty"`
	FileSize   uint64 `json:"file_size,omitempty"`
	CPUSeconds uint64 `json:"cpu_seconds,omitempty"`
}

// mountJSON is a Mount as the spec writes it.
type mountJSON struct {
	Host  string    `json:"host"`
	Guest string    `json:"guest"`
	Mode  MountMode `json:"mode,omitempty"`
}

// MarshalJSON writes the JSON form.
func (s Sandbox) MarshalJSON() ([]byte, error) {
	j := sandboxJSON{MemoryMiB: s.MemoryMiB, VCPUs: s.VCPUs, DiskMiB: s.DiskMiB, Env: s.Env,
		Limits:      limitsJSON(s.Limits),
		OutputLimit: s.OutputLimit, Image: s.Image, AttachShell: s.AttachShell,
		Network: s.Network.Plain(), CACerts: string(s.CACerts), Snapshot: s.Snapshot}
	for _, f := range s.Ports {
		j.Ports = append(j.Ports, f.String())
	}
	for _, m := range s.Mounts {
		j.Mounts = append(j.Mounts, mountJSON(m))
	}
	if s.Timeout != 0 {
		j.Timeout = s.Timeout.String()
	}
	if s.AllowedCommands != nil {
		j.AllowedCommands = &s.AllowedCommands
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the JSON form strictly: an unknown field, a value of
// the wrong type or a bad duration is an error, as Problems naming the
// field (Validate's names), so a caller can say which one. It does not
// validate bounds: call Validate.
func (s *Sandbox) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j sandboxJSON
	if err := dec.Decode(&j); err != nil {
		return Problems{jsonProblem(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Problems{{Message: "data after the policy"}}
	}
	out := Sandbox{MemoryMiB: j.MemoryMiB, VCPUs: j.VCPUs, DiskMiB: j.DiskMiB, Env: j.Env,
		Limits: Limits(j.Limits), OutputLimit: j.OutputLimit, Image: j.Image, AttachShell: j.AttachShell,
		Snapshot: j.Snapshot}
	for _, m := range j.Mounts {
		out.Mounts = append(out.Mounts, Mount(m))
	}
	if ps := j.network(&out); len(ps) > 0 {
		return ps
	}
	if j.AllowedCommands != nil { // null leaves it nil: no allowlist
		out.AllowedCommands = *j.AllowedCommands
	}
	if j.Timeout != "" {
		d, err := time.ParseDuration(j.Timeout)
		if err != nil {
			return Problems{{Field: "timeout", Message: fmt.Sprintf("%q is not a duration such as 30s or 5m", j.Timeout)}}
		}
		out.Timeout = d
	}
	*s = out
	return nil
}

// jsonProblem names the field of a decoding error.
func jsonProblem(err error) Problem {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ):
		return Problem{Field: typ.Field, Message: "want " + jsonKind(typ.Type.Kind().String()) + ", got " + typ.Value}
	case errors.As(err, &syn):
		return Problem{Message: "not JSON: " + syn.Error()}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ := strconv.Unquote(name)
		return Problem{Field: f, Message: "unknown field"}
	}
	return Problem{Message: err.Error()}
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "map", k == "struct":
		return "an object"
	case k == "slice":
		return "an array"
	}
	return "a " + k
}

// network sets out's network, port forwards and CAs, or names what is
// wrong with them by the fields Validate uses.
func (j sandboxJSON) network(out *Sandbox) Problems {
	var ps Problems
	np, err := netpolicy.Parse(j.Network)
	for _, e := range unjoin(err) {
		var fe *netpolicy.FieldError
		if !errors.As(e, &fe) {
			ps = append(ps, Problem{Field: "network", Message: e.Error()})
			continue
		}
		field := "network"
		if fe.Path != "network" {
			field += "." + fe.Path
		}
		ps = append(ps, Problem{Field: field, Message: fe.Msg})
	}
	if err == nil {
		out.Network = *np
	}
	for i, s := range j.Ports {
		f, err := netpolicy.ParseForward(s)
		if err != nil {
			ps = append(ps, Problem{Field: fmt.Sprintf("ports[%d]", i), Message: fmt.Sprintf("%q: %v", s, err)})
			continue
		}
		out.Ports = append(out.Ports, f)
	}
	if j.CACerts != "" {
		out.CACerts = []byte(j.CACerts)
	}
	return ps
}
