package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyE2E: an empty --allow allows nothing; an out-of-memory kill is
// named in text and JSON (it was a bare 137 and "signal": 9); a path in a
// spec's allowed_commands is a located spec error, said once.
func TestPolicyE2E(t *testing.T) {
	t.Run("an empty --allow allows no command", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--allow=", "--", "echo", "ran")
		if r.code != 126 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "not allowed by sandbox policy") {
			t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	const hog = `awk 'BEGIN { s = "x"; while (1) s = s s }'`
	t.Run("out of memory in text", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--memory", "256M", "--", "sh", "-c", hog)
		if r.code != 137 || !strings.Contains(r.stderr, "voidbox: killed: out of memory") {
			t.Fatalf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("out of memory in json", func(t *testing.T) {
		r := voidbox(t, "", "exec", "--json", "--memory", "256M", "--", "sh", "-c", hog)
		var rep struct {
			ExitCode  int    `json:"exit_code"`
			OOMKilled bool   `json:"oom_killed"`
			Reason    string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: stdout %q", err, r.stdout)
		}
		if r.code != 137 || rep.ExitCode != 137 || !rep.OOMKilled || rep.Reason != "killed: out of memory" {
			t.Fatalf("exit %d report %+v stderr %q", r.code, rep, r.stderr)
		}
	})
	t.Run("a path in allowed_commands", func(t *testing.T) {
		spec := filepath.Join(t.TempDir(), "abs.yaml")
		os.WriteFile(spec, []byte("kind: pipeline\nname: p\nsandbox:\n  allowed_commands: [/bin/echo]\n"+
			"pipeline:\n  boxes:\n    - {name: absecho, exec: [echo, hi]}\n"), 0o644)
		for _, sub := range []string{"validate", "run"} {
			r := voidbox(t, "", sub, "--file", spec)
			if r.code != 2 || !strings.Contains(r.stderr, `abs.yaml:4:22: sandbox.allowed_commands[0]: "/bin/echo" is not a command name`) ||
				strings.Contains(r.stderr, "invalid: invalid") {
				t.Fatalf("%s: exit %d stderr %q", sub, r.code, r.stderr)
			}
		}
	})
}
