package codex

import (
	"strings"
	"testing"
)

func TestDigestsAndSummary(t *testing.T) {
	im := &Image{Dir: "/c/flavours/codex-" + Version, Version: Version, Files: map[string]record{
		"bin/rg":    {Size: 1 << 20, SHA256: "bb"},
		"bin/codex": {Size: 3 << 20, SHA256: "aa"},
	}}
	d := im.Digests()
	if len(d) != 2 || d[0] != (Digest{Path: "bin/codex", Size: 3 << 20, SHA256: "aa"}) || d[1].Path != "bin/rg" {
		t.Fatalf("digests %+v", d)
	}
	if s := im.Summary(); !strings.Contains(s, "codex "+Version+" (2 files, 4.0 MiB) at /c/flavours/") {
		t.Fatalf("summary %q", s)
	}
}
