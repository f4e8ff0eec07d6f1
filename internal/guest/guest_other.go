//go:build !linux

package guest

import (
	"fmt"
	"os"
)

func runInit() {
	fmt.Fprintln(os.Stderr, "voidbox-guest: only runs on Linux")
	os.Exit(2)
}
