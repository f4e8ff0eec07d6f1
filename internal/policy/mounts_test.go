package policy

import (
	"strings"
	"testing"
)

func TestMountsAndImage(t *testing.T) {
	ok := Sandbox{Image: "localhost:5000/toolbox:1", Mounts: []Mount{
		{Host: "/src", Guest: "/workspace/src"}, {Host: "/out", Guest: "/workspace/out", Mode: ReadWrite}, {Host: "/d", Guest: "/data", Mode: ReadOnly}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.Mounts[0].Writable() || !ok.Mounts[1].Writable() {
		t.Error("modes")
	}
	c := ok.Clone()
	c.Mounts[0].Guest = "/changed"
	if ok.Mounts[0].Guest != "/workspace/src" {
		t.Error("Clone shares the mounts")
	}
	bad := Sandbox{Image: "a b", Mounts: []Mount{
		{Host: "rel", Guest: "/a"},
		{Host: "/h", Guest: "a"},
		{Host: "/h", Guest: "/proc/x"},
		{Host: "/h", Guest: "/"},
		{Host: "/h/../x", Guest: "/b/"},
		{Host: "/h", Guest: "/a/sub"},
		{Host: "/h", Guest: "/c", Mode: "rx"},
		{Host: "/h", Guest: "/usr/lib/voidbox"},
	}}
	var fields []string
	for _, p := range AsProblems(bad.Validate()) {
		fields = append(fields, p.Field)
	}
	want := "image mounts[0].host mounts[1].guest mounts[2].guest mounts[3].guest mounts[4].host mounts[4].guest mounts[5].guest mounts[6].mode mounts[7].guest"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields %q\nwant   %q\n(%v)", got, want, bad.Validate())
	}
	many := Sandbox{}
	for i := 0; i <= MaxMounts; i++ {
		many.Mounts = append(many.Mounts, Mount{Host: "/h", Guest: "/m" + strings.Repeat("x", i+1)})
	}
	if ps := AsProblems(many.Validate()); len(ps) != 1 || ps[0].Field != "mounts" {
		t.Errorf("too many mounts: %v", ps)
	}
}
