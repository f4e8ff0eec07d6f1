package internal_test

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/voidbox/voidbox"

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

// row is one line of docs/architecture.md's package table.
type row struct {
	imports  []string // voidbox packages it may import, by table name
	stdlib   bool     // third-party "none"
	lineText string
}

// shortName is a package's name in the table: root, cmd/…, or the path
// under internal/.
func shortName(importPath string) string {
	switch {
	case importPath == mod:
		return "root"
	case strings.HasPrefix(importPath, mod+"/internal/"):
		return strings.TrimPrefix(importPath, mod+"/internal/")
	}
	return strings.TrimPrefix(importPath, mod+"/")
}

// architectureTable reads the package table of docs/architecture.md.
func architectureTable(t *testing.T) map[string]row {
	t.Helper()
	f, err := os.Open("../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]row{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a row of the four-column package table
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		name = strings.TrimPrefix(name, "internal/")
		r := row{stdlib: strings.TrimSpace(cells[4]) == "none", lineText: line}
		if imp := strings.TrimSpace(cells[3]); imp != "–" {
			for _, p := range strings.Split(imp, ",") {
				r.imports = append(r.imports, strings.TrimSpace(p))
			}
		}
		if _, dup := rows[name]; dup {
			t.Errorf("docs/architecture.md lists %s twice", name)
		}
		rows[name] = r
	}
	if len(rows) < 20 {
		t.Fatalf("docs/architecture.md: only %d package rows found", len(rows))
	}
	return rows
}

// TestArchitectureTable: every package's direct imports of voidbox
// packages are the ones docs/architecture.md allows it, a package whose
// third-party column is "none" imports only the standard library (and the
// voidbox packages of its row), and every package has a row.
func TestArchitectureTable(t *testing.T) {
	rows := architectureTable(t)
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{len .GoFiles}}|{{join .Imports " "}}`, mod+"/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if parts[1] == "0" {
			continue // tests only (this package)
		}
		name := shortName(parts[0])
		seen[name] = true
		r, ok := rows[name]
		if !ok {
			t.Errorf("%s has no row in docs/architecture.md's package table", name)
			continue
		}
		for _, imp := range strings.Fields(parts[2]) {
			switch {
			case strings.HasPrefix(imp, mod):
				if !slices.Contains(r.imports, shortName(imp)) {
					t.Errorf("%s imports %s, which its row does not allow (%v)", name, shortName(imp), r.imports)
				}
			case r.stdlib && strings.Contains(strings.SplitN(imp, "/", 2)[0], "."):
				t.Errorf("%s imports %s; its row says the standard library only", name, imp)
			}
		}
	}
	for name := range rows {
		if !seen[name] {
			t.Errorf("docs/architecture.md has a row for %s, which is not a package", name)
		}
	}
}

// TestGuestLinksNoHostCode keeps PID 1 of every VM small and its attack
// surface known: the wire protocol and its own package, the network
// benchmark's client (stdlib only, run as a command, never by PID 1),
// nothing else of ours (not even the built-in agent, which is a separate
// binary), and no HTTP.
func TestGuestLinksNoHostCode(t *testing.T) {
	allowed := map[string]bool{
		mod + "/cmd/voidbox-guest":  true,
		mod + "/internal/guestinit": true,
		mod + "/internal/wire":      true,
		mod + "/internal/netbench":  true,
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
// links its own packages, its config contract, the event types it writes
// and the wire allowlist rule, never the host's gateway, VMM or CLI.
func TestAgentLinksNoHostCode(t *testing.T) {
	for _, d := range deps(t, mod+"/cmd/voidbox-agent", "GOOS=linux", "CGO_ENABLED=0") {
		switch {
		case !strings.HasPrefix(d, mod), d == mod+"/cmd/voidbox-agent", d == mod+"/internal/agent",
			strings.HasPrefix(d, mod+"/internal/agent/"), d == mod+"/internal/agentconfig",
			d == mod+"/internal/event", d == mod+"/internal/wire":
		default:
			t.Errorf("voidbox-agent links %s", d)
		}
	}
}

// TestHostLinksNoGuestCode: the public package (and so the CLI and every
// library user) links none of the guest-only code: not the guest init, not
// the built-in agent, its model SDKs, MCP SDK or shell interpreter.
func TestHostLinksNoGuestCode(t *testing.T) {
	banned := []string{mod + "/internal/guestinit", mod + "/internal/agent", "mvdan.cc/sh",
		"github.com/modelcontextprotocol/go-sdk", "github.com/anthropics/anthropic-sdk-go", "github.com/openai/openai-go"}
	for _, pkg := range []string{mod, mod + "/cmd/voidbox"} {
		for _, d := range deps(t, pkg) {
			for _, b := range banned {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s links %s", shortName(pkg), d)
				}
			}
		}
	}
}

// TestStdlibOnlyTransitively: the protocol, policy (network policy too) and event packages, which
// both the host and a guest binary link, pull in nothing outside the
// standard library and each other, however deep.
func TestStdlibOnlyTransitively(t *testing.T) {
	ours := []string{mod + "/internal/wire", mod + "/internal/policy", mod + "/internal/netpolicy", mod + "/internal/event", mod + "/internal/agentconfig"}
	for _, p := range ours {
		for _, d := range deps(t, p) {
			if !slices.Contains(ours, d) && strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				t.Errorf("%s depends on %s", shortName(p), d)
			}
		}
	}
}
