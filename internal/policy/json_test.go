package policy

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
)

func TestJSONRoundTrip(t *testing.T) {
	for _, s := range []Sandbox{
		{},
		{AllowedCommands: []string{}},
		{MemoryMiB: 256, VCPUs: 2, DiskMiB: 64, Timeout: 90 * time.Second, Env: map[string]string{"A": "b"},
			AllowedCommands: []string{"echo"}, Limits: Limits{Processes: 5, OpenFiles: 6, FileSize: 7, CPUSeconds: 8},
			OutputLimit: 1024},
		{Network: *netpolicy.Public(), Ports: []netpolicy.Forward{{Host: netip.MustParseAddrPort("127.0.0.1:8080"), GuestPort: 80}}},
		{Network: netpolicy.Policy{Mode: netpolicy.ModeAllowlist,
			Allow:     []netpolicy.Rule{{Name: "example.test"}, {Name: "example.com", Wildcard: true, Ports: netpolicy.PortRange{Lo: 443, Hi: 443}}, {Prefix: netip.MustParsePrefix("10.0.0.0/8")}},
			Deny:      []netpolicy.Rule{{Prefix: netip.MustParsePrefix("10.1.0.0/16")}},
			HostPorts: []uint16{11434}, Hosts: map[string]netip.Addr{"example.test": netip.MustParseAddr("127.0.0.1")},
			Limits: netpolicy.Limits{ConnsPerSecond: 5, MaxFlows: 6, MaxBytes: 7}},
			CACerts: []byte("-----BEGIN CERTIFICATE-----\n")},
	} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got Sandbox
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s read back as %+v, want %+v", b, got, s)
		}
	}
	var s Sandbox
	if err := json.Unmarshal([]byte(`{"allowed_commands":null}`), &s); err != nil || s.AllowedCommands != nil {
		t.Errorf("null allowlist: %v, %#v", err, s.AllowedCommands)
	}
}

func TestJSONProblems(t *testing.T) {
	for src, field := range map[string]string{
		`{"memory_mb":"x"}`:               "memory_mb",
		`{"limits":{"processes":-1}}`:     "limits.processes",
		`{"nope":1}`:                      "nope",
		`{"timeout":"soon"}`:              "timeout",
		`{"allowed_commands":"sh"}`:       "allowed_commands",
		`{"network":{"allow":["*"]}}`:     "network.allow[0]",
		`{"network":"yes"}`:               "network",
		`{"network":true,"ports":["80"]}`: "ports[0]",
	} {
		var s Sandbox
		ps := AsProblems(json.Unmarshal([]byte(src), &s))
		if len(ps) != 1 || ps[0].Field != field {
			t.Errorf("%s: problems %v, want one for %s", src, ps, field)
		}
	}
}

// TestJSONNamesEveryField: a field added to Sandbox or Limits gets a JSON
// name, or the daemon would silently drop it.
func TestJSONNamesEveryField(t *testing.T) {
	if a, b := reflect.TypeFor[Sandbox]().NumField(), reflect.TypeFor[sandboxJSON]().NumField(); a != b {
		t.Errorf("Sandbox has %d fields, its JSON form %d", a, b)
	}
	if a, b := reflect.TypeFor[Limits]().NumField(), reflect.TypeFor[limitsJSON]().NumField(); a != b {
		t.Errorf("Limits has %d fields, its JSON form %d", a, b)
	}
}
