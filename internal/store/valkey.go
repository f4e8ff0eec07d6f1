package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"
)

// Valkey is the store in a Valkey or Redis server (standalone; the scripts
// touch several keys, so not a cluster), with large outputs as files in
// ValkeyConfig.DataDir on the daemon's host. Durability is the server's:
// with appendonly yes and appendfsync always a write that returned survives
// a server crash too.
//
// WaitEvents across processes: every write script PUBLISHes the run's id on
// P:notify, and the store keeps one subscription that wakes its waiters. On
// every (re)subscription it wakes all of them, since messages published
// while it was not subscribed are lost; so a waiter never sleeps through a
// change, and nothing polls.
//
// Unlike the file stores there is no lock against a second daemon (a lease
// would outlive a killed daemon and block its restart): give each daemon its
// own prefix or database.
type Valkey struct {
	c     valkey.Client
	p     string // key prefix, with its trailing ':'
	blobs blobDir
	ids   idGen
	n     notifier

	stop      context.CancelFunc
	subDone   chan struct{} // closed when the subscriber has returned
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Store = (*Valkey)(nil)

// OpenValkey connects and subscribes; it returns once the subscription is
// confirmed, so no change made after it returns can be missed by a waiter.
func OpenValkey(ctx context.Context, cfg ValkeyConfig) (*Valkey, error) {
	if cfg.Addr == "" || cfg.Prefix == "" || cfg.DataDir == "" {
		return nil, fmt.Errorf("valkey store: address, prefix and data directory are required: %w", ErrInvalid)
	}
	c, err := valkey.NewClient(valkey.ClientOption{
		InitAddress:  []string{cfg.Addr},
		SelectDB:     cfg.DB,
		Username:     cfg.Username,
		Password:     cfg.Password,
		DisableCache: true, // server-assisted caching needs RESP3 tracking; nothing here rereads hot keys
		// Bounded set-up, so a wrong address fails Open quickly.
		Dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("valkey store %s: %w", cfg.Addr, err)
	}
	v := &Valkey{c: c, p: cfg.Prefix + ":", blobs: blobDir(cfg.DataDir), subDone: make(chan struct{})}
	subCtx, stop := context.WithCancel(context.Background())
	v.stop = stop
	ready := make(chan struct{})
	go v.subscribe(subCtx, ready)
	select {
	case <-ready:
	case <-ctx.Done():
		v.Close()
		return nil, fmt.Errorf("valkey store %s: subscribing: %w", cfg.Addr, ctx.Err())
	case <-time.After(10 * time.Second):
		v.Close()
		return nil, fmt.Errorf("valkey store %s: no subscription confirmed in 10s", cfg.Addr)
	}
	if err := v.blobs.prune(func(run string) (bool, error) {
		n, err := v.c.Do(ctx, v.c.B().Exists().Key(v.k("run", run)).Build()).AsInt64()
		return n == 1, err
	}); err != nil {
		v.Close()
		return nil, fmt.Errorf("valkey store %s: removing outputs of deleted runs: %w", cfg.Addr, err)
	}
	return v, nil
}

// subscribe owns the pub/sub connection until Close; Close waits for it.
func (v *Valkey) subscribe(ctx context.Context, ready chan struct{}) {
	defer close(v.subDone)
	var once sync.Once
	hooked := valkey.WithOnSubscriptionHook(ctx, func(s valkey.PubSubSubscription) {
		if s.Kind == "subscribe" {
			v.n.notifyAll()
			once.Do(func() { close(ready) })
		}
	})
	for ctx.Err() == nil {
		v.c.Receive(hooked, v.c.B().Subscribe().Channel(v.p+"notify").Build(), func(m valkey.PubSubMessage) {
			v.n.notify(m.Message)
		})
		select { // the connection broke: retry, without spinning
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the subscriber and closes the connections. It is idempotent.
func (v *Valkey) Close() error {
	v.closeOnce.Do(func() {
		v.closed.Store(true)
		v.stop()
		<-v.subDone
		v.c.Close()
		v.n.notifyAll()
	})
	return nil
}

func (v *Valkey) check() error {
	if v.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (v *Valkey) k(parts ...string) string { return v.p + strings.Join(parts, ":") }

// runKeys are the keys of one run, in the order scriptDelete takes them.
func (v *Valkey) runKeys(id string) (run, stages, order, events, outputs string) {
	return v.k("run", id), v.k("stages", id), v.k("stageorder", id), v.k("events", id), v.k("outputs", id)
}

// result reads a script's {code, value} answer, turning codes 0 and 1 into
// ErrNotFound and ErrConflict for `what`.
func result(r valkey.ValkeyResult, what string) (valkey.ValkeyMessage, error) {
	arr, err := r.ToArray()
	if err != nil {
		return valkey.ValkeyMessage{}, fmt.Errorf("%s: %w", what, err)
	}
	code, err := arr[0].AsInt64()
	if err != nil {
		return valkey.ValkeyMessage{}, fmt.Errorf("%s: %w", what, err)
	}
	var val valkey.ValkeyMessage
	if len(arr) > 1 {
		val = arr[1]
	}
	switch code {
	case 0:
		return val, fmt.Errorf("%s: %w", what, ErrNotFound)
	case 1:
		st, _ := val.ToString()
		return val, fmt.Errorf("%s is %s: %w", what, st, ErrConflict)
	}
	return val, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// isNil: a missing key or field.
func isNil(err error) bool { return valkey.IsValkeyNil(err) || errors.Is(err, valkey.Nil) }
