package internal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages a package transitively imports (module-internal and
// third-party), using the go tool so the check sees what the build sees.
func deps(t *testing.T, pkg string, env ...string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

const mod = "github.com/voidbox/voidbox"

// TestGuestLinksNoHostCode keeps PID 1 of every VM small and its attack
// surface known: the wire protocol and its own package, nothing else of ours
// (not even the built-in agent, which is a separate binary), and no HTTP.
func TestGuestLinksNoHostCode(t *testing.T) {
	allowed := map[string]bool{
		mod + "/cmd/voidbox-guest": true,
		mod + "/internal/guest":    true,
		mod + "/internal/wire":     true,
	}
	for _, d := range deps(t, mod+"/cmd/voidbox-guest", "GOOS=linux", "CGO_ENABLED=0") {
		if strings.HasPrefix(d, mod) && !allowed[d] {
			t.Errorf("voidbox-guest links %s", d)
		}
		if d == "net/http" {
			t.Errorf("voidbox-guest links net/http")
		}
	}
}

// TestAgentLinksNoHostCode: the built-in agent runs in the guest too; it
// links only its own packages, never the host's gateway, VMM or CLI.
func TestAgentLinksNoHostCode(t *testing.T) {
	for _, d := range deps(t, mod+"/cmd/voidbox-agent", "GOOS=linux", "CGO_ENABLED=0") {
		if strings.HasPrefix(d, mod) && d != mod+"/cmd/voidbox-agent" && d != mod+"/internal/agent" &&
			!strings.HasPrefix(d, mod+"/internal/agent/") {
			t.Errorf("voidbox-agent links %s", d)
		}
	}
}

// TestStdlibOnlyPackages: the protocol and policy packages depend on the
// standard library only, so both ends can link them and audits stay small.
func TestStdlibOnlyPackages(t *testing.T) {
	for _, p := range []string{mod + "/internal/wire", mod + "/internal/netpolicy", mod + "/internal/netstack/sniff"} {
		for _, d := range deps(t, p) {
			if d == p {
				continue
			}
			if strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				t.Errorf("%s depends on non-stdlib package %s", p, d)
			}
		}
	}
}

// TestInternalDoesNotImportCLI: dependencies point from cmd to the public API
// to internal packages, never back up to the CLI.
func TestInternalDoesNotImportCLI(t *testing.T) {
	for _, d := range deps(t, mod) {
		if d == mod+"/internal/cli" {
			t.Errorf("the public package links the CLI")
		}
	}
}
