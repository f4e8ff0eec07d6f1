package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/voidbox/voidbox/internal/artifact"
	"github.com/voidbox/voidbox/internal/claudecode"
	"github.com/voidbox/voidbox/internal/guestimage"
	"github.com/voidbox/voidbox/internal/oci"
)

// cacheCheck reads every recorded file of the cache (guest image, Claude
// Code flavours, OCI images) and names the damaged ones.
func cacheCheck(cacheDir string) check {
	errs := []error{guestimage.Verify(cacheDir), claudecode.Verify(cacheDir)}
	if s, err := oci.Open(cacheDir); err == nil {
		errs = append(errs, s.Verify())
	}
	err := errors.Join(errs...)
	if err == nil {
		return check{Name: "cache-files", OK: true, Detail: "every recorded file is as written (sizes and digests)"}
	}
	var lines []string
	for _, e := range flatten(err) {
		lines = append(lines, e.Error())
	}
	fix := "voidbox setup (repairs the guest image; a damaged Claude Code flavour: voidbox image build claude)"
	if len(artifact.Damaged(err)) == 0 {
		fix = ""
	}
	return check{Name: "cache-files", Detail: fmt.Sprintf("damaged: %s", strings.Join(lines, "; ")), Fix: fix}
}

// flatten lists the leaves of joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
