package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotField: a name is kept as written, a relative path resolves
// against the spec's directory, a box inherits the top-level snapshot and
// may name its own; a box starting from a snapshot with outputs, or one
// whose override adds a network under an inherited snapshot, is refused
// at that field.
func TestSnapshotField(t *testing.T) {
	dir := t.TempDir()
	src := `kind: pipeline
name: p
sandbox: {snapshot: small}
pipeline:
  boxes:
    - {name: a, exec: [ls]}
    - {name: b, exec: [ls], sandbox: {snapshot: ./snaps/b}}
`
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	boxes := s.Pipeline.Boxes
	if got := boxes[0].Sandbox.Policy.Snapshot; got != "small" {
		t.Errorf("a: snapshot %q", got)
	}
	if got := boxes[1].Sandbox.Policy.Snapshot; got != filepath.Join(dir, "snaps/b") {
		t.Errorf("b: snapshot %q", got)
	}

	bad := `kind: pipeline
name: p
sandbox: {snapshot: small}
pipeline:
  boxes:
    - {name: a, exec: [ls], outputs: [{name: o}]}
    - {name: b, exec: [ls], sandbox: {network: true}}
`
	_, err = Parse("t.yaml", []byte(bad))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`t.yaml:6:38: pipeline.boxes[0].outputs: box "a" starts from a snapshot`,
		`pipeline.boxes[1].sandbox.network: a box started from a snapshot cannot have network`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
