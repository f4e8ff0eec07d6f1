package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"time"

	"github.com/voidbox/voidbox/internal/wire"
)

// ResumeOptions make a restored copy of a parked guest its own.
type ResumeOptions struct {
	// Secret is the guest's current secret (the snapshot's); NewSecret
	// replaces it and is the only one the guest accepts afterwards.
	Secret, NewSecret []byte
	Hostname          string
	Listeners         []wire.Listener
	Services          map[string]TunnelHandler
}

// Resume wakes a parked guest init on conn (see wire.Resume) and starts the
// stream multiplexer. On error conn is closed.
func Resume(ctx context.Context, conn net.Conn, o ResumeOptions) (*Client, error) {
	msg, err := resumeMsg(o, false)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w, err := exchange(ctx, conn, wire.TResume, msg)
	if err != nil {
		return nil, err
	}
	return start(conn, w, o.Services)
}

// ResumePark re-keys a parked guest init like Resume but leaves it parked,
// waiting on conn for the next Resume. On error conn is closed.
func ResumePark(ctx context.Context, conn net.Conn, o ResumeOptions) (wire.Welcome, error) {
	msg, err := resumeMsg(o, true)
	if err != nil {
		conn.Close()
		return wire.Welcome{}, err
	}
	return exchange(ctx, conn, wire.TResume, msg)
}

func resumeMsg(o ResumeOptions, park bool) (wire.Resume, error) {
	entropy := make([]byte, wire.EntropyBytes)
	if _, err := rand.Read(entropy); err != nil {
		return wire.Resume{}, err
	}
	return wire.Resume{
		Version:      wire.Version,
		Secret:       hex.EncodeToString(o.Secret),
		NewSecret:    hex.EncodeToString(o.NewSecret),
		TimeUnixNano: time.Now().UnixNano(),
		Entropy:      hex.EncodeToString(entropy),
		Hostname:     o.Hostname,
		Listeners:    o.Listeners,
		Park:         park,
	}, nil
}
