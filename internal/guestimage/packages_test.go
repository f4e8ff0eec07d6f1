package guestimage

import "testing"

func TestConcreteKernel(t *testing.T) {
	// The metapackage's Depends names the versioned package (see
	// deb.TestParseAptShow for how that is read).
	if !concreteKernel.MatchString("linux-image-6.1.0-57-amd64") || concreteKernel.MatchString("linux-image-amd64") {
		t.Error("concreteKernel pattern does not tell the versioned package from the metapackage")
	}
}
