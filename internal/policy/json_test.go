package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestJSONRoundTrip(t *testing.T) {
	for _, s := range []Sandbox{
		{},
		{AllowedCommands: []string{}},
		{MemoryMiB: 256, VCPUs: 2, DiskMiB: 64, Timeout: 90 * time.Second, Env: map[string]string{"A": "b"},
			AllowedCommands: []string{"echo"}, Limits: Limits{Processes: 5, OpenFiles: 6, FileSize: 7, CPUSeconds: 8},
			OutputLimit: 1024},
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
		`{"memory_mb":"x"}`:           "memory_mb",
		`{"limits":{"processes":-1}}`: "limits.processes",
		`{"nope":1}`:                  "nope",
		`{"timeout":"soon"}`:          "timeout",
		`{"allowed_commands":"sh"}`:   "allowed_commands",
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
