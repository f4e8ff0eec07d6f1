package claudecode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/cli"
)

func voidbox(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIImageBuildAndList(t *testing.T) {
	im := claudecode.RealImage(t)
	cache := claudecode.RealCacheDir()

	code, out, errs := voidbox(t, "image", "build", "claude", "--cache-dir", cache)
	if code != 0 || strings.TrimSpace(out) != im.Summary() || errs != "" {
		t.Errorf("build of a built flavour: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	code, out, _ = voidbox(t, "image", "build", "claude-code", "--cache-dir", cache, "--json")
	var got claudecode.Image
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Dir != im.Dir || got.Loader != im.Loader {
		t.Errorf("build --json: exit %d, %v: %s", code, err, out)
	}
	code, out, _ = voidbox(t, "image", "list", "--cache-dir", cache)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "FLAVOUR") ||
		!strings.Contains(lines[1], "claude   "+im.Version) || !strings.Contains(lines[1], im.Dir) || !strings.Contains(lines[1], " MB ") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	empty := t.TempDir()
	if code, out, _ = voidbox(t, "image", "list", "--cache-dir", empty, "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json of an empty cache: exit %d %q", code, out)
	}
	if code, out, _ = voidbox(t, "image", "list", "--cache-dir", empty); code != 0 || !strings.Contains(out, "voidbox image build claude") {
		t.Errorf("list of an empty cache: exit %d %q", code, out)
	}
}

func TestCLIImageBuildBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"image", "build", "node"},
		{"image", "build"},
		{"image", "build", "claude", "--version", "../../etc"},
	} {
		if code, _, errs := voidbox(t, args...); code != cli.ExitUsage || errs == "" {
			t.Errorf("voidbox %v: exit %d, stderr %q; want %d and a message", args, code, errs, cli.ExitUsage)
		}
	}
}
