//go:build !linux

package attach

import (
	"errors"
	"net"
)

// checkPeer refuses everyone where the peer's uid cannot be read.
func checkPeer(net.Conn) error { return errors.New("attach needs Linux (SO_PEERCRED)") }
