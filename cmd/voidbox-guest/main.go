// Command voidbox-guest is the guest init: PID 1 of every voidbox micro-VM.
// It is built static (CGO_ENABLED=0) and links no host-side package.
package main

import "github.com/voidbox/voidbox/internal/guestinit"

func main() { guestinit.Main() }
