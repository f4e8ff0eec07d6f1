//go:build !unix

package cli

import (
	"os"

	"github.com/voidbox/voidbox"
)

// watchResize does nothing where there is no SIGWINCH.
func watchResize(*os.File, chan voidbox.WindowSize) (stop func()) { return func() {} }
