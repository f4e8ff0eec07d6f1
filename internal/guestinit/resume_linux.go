package guestinit

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/voidbox/voidbox/internal/wire"
	"golang.org/x/sys/unix"
)

// resume waits, parked, for the host's Resume on the raw channel and makes
// this copy of the VM its own: a new secret (the old one is refused from
// here on), reseeded RNG, the host's clock, a new hostname, the listeners
// asked for. Any problem is a Reject and an error (the caller powers off):
// a parked guest that cannot tell its host from an impostor must not run.
func (srv *server) resume(ch io.ReadWriter) (*wire.Resume, error) {
	f, err := wire.NewReader(ch, 64<<10).ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("reading resume: %w", err)
	}
	reject := func(reason string) (*wire.Resume, error) {
		_ = wire.WriteJSON(ch, wire.TReject, wire.Reject{Reason: reason})
		return nil, errors.New("resume rejected: " + reason)
	}
	if f.Type != wire.TResume {
		return reject(fmt.Sprintf("expected resume, got %s", f.Type))
	}
	var r wire.Resume
	if err := f.Decode(&r); err != nil {
		return reject("malformed resume")
	}
	if r.Version != wire.Version {
		return reject(fmt.Sprintf("protocol version %d not supported (guest speaks %d)", r.Version, wire.Version))
	}
	got, err := hex.DecodeString(r.Secret)
	if err != nil || subtle.ConstantTimeCompare(got, srv.secret) != 1 {
		return reject("bad secret")
	}
	next, err := hex.DecodeString(r.NewSecret)
	if err != nil || len(next) < 16 {
		return reject("new secret: want at least 16 bytes of hex")
	}
	entropy, err := hex.DecodeString(r.Entropy)
	if err != nil || len(entropy) != wire.EntropyBytes {
		return reject(fmt.Sprintf("entropy: want %d bytes of hex", wire.EntropyBytes))
	}
	if !validHostname(r.Hostname) {
		return reject(fmt.Sprintf("hostname %q: want 1..%d of [a-z0-9-.]", r.Hostname, wire.MaxHostname))
	}
	srv.secret = next
	if err := reseedRNG(entropy); err != nil {
		return reject("reseeding the guest rng: " + err.Error())
	}
	setClock(r.TimeUnixNano)
	if err := unix.Sethostname([]byte(r.Hostname)); err != nil {
		return reject("setting the hostname: " + err.Error())
	}
	ls, err := openListeners(r.Listeners)
	if err != nil {
		return reject(err.Error())
	}
	srv.listeners = append(srv.listeners, ls...)
	w := wire.Welcome{Version: wire.Version, Kernel: kernelRelease(), InitVersion: Version, BootMillis: uptimeMillis()}
	if err := wire.WriteJSON(ch, wire.TWelcome, w); err != nil {
		return nil, err
	}
	return &r, nil
}

func validHostname(s string) bool {
	return s != "" && len(s) <= wire.MaxHostname && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == ""
}
