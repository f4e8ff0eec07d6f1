package rootfstest

import (
	"encoding/hex"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Xattrs returns the extended attributes of name in the image, as
// dump.erofs --path or debugfs ea_list print them.
func Xattrs(t testing.TB, format, img, name string) map[string]string {
	t.Helper()
	if format == "erofs" {
		// dump.erofs 1.5 does not print xattrs: find the inode with it and
		// read the on-disk xattrs ourselves.
		nid, _, err := erofsInode(img, name)
		if err != nil {
			t.Fatal(err)
		}
		xs, err := erofsXattrs(img, nid)
		if err != nil {
			t.Fatalf("xattrs of %s: %v", name, err)
		}
		return xs
	}
	cmd := exec.Command(debugfsPath(), "-R", "ea_list "+quote(name), img)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	xs := map[string]string{}
	line := regexp.MustCompile(`^\s+(\S+) \((\d+)\) = (.*)$`)
	for _, l := range strings.Split(string(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v := strings.TrimSpace(m[3])
		if strings.HasPrefix(v, `"`) && strings.HasSuffix(v, `"`) {
			xs[m[1]] = v[1 : len(v)-1]
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(v, " ", ""))
		if err != nil {
			t.Fatalf("xattr value %q: %v", v, err)
		}
		xs[m[1]] = string(b)
	}
	return xs
}
