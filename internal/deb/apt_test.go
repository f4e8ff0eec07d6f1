package deb

import (
	"errors"
	"os/exec"
	"reflect"
	"testing"
)

func TestParseAptShow(t *testing.T) {
	out := []byte(`Package: linux-image-amd64
Source: linux-signed-amd64 (6.1.192+3)
Version: 6.1.192-3
Installed-Size: 13
Provides: linux-image-generic, wireguard-modules (= 1.0.0)
Depends: linux-image-6.1.0-57-amd64 (= 6.1.192-3), foo:any | bar
Pre-Depends: dpkg (>= 1.17)
Description: Linux for 64-bit PCs (meta-package)
 Depends: this continuation line is not a field
Size: 1484

Package: linux-image-amd64
Version: 6.1.176-1
`)
	got, err := parseAptShow(out)
	if err != nil {
		t.Fatal(err)
	}
	want := Package{Name: "linux-image-amd64", Version: "6.1.192-3", Depends: []string{"linux-image-6.1.0-57-amd64", "foo", "dpkg"}, Size: 1484}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := parseAptShow([]byte("N: nothing here\n")); err == nil {
		t.Error("record without Package: no error")
	}
}

// TestAptUnknownPackage runs the host's real apt-cache (local lists, no network).
func TestAptUnknownPackage(t *testing.T) {
	a := &Apt{}
	_, err := a.runApt(exec.Command("apt-cache", "show", "--no-all-versions", "voidbox-no-such-package"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown package: %v, want ErrNotFound", err)
	}
}
