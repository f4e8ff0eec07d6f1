package netstack

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voidbox/voidbox/internal/netpolicy"
	"github.com/voidbox/voidbox/internal/netstack/sniff"
)

// pipe splices one admitted TCP flow: upstream→guest starts at once (so
// server-first protocols such as SSH or SMTP work), guest→upstream first
// passes the sniffer when sniff is set: a TLS ClientHello or HTTP request
// head must name a server the flow may speak to, or the flow is cut before
// a byte of it goes upstream. Anything else (opaque TCP) passes as is: the
// flow already goes only to an address the policy allowed. Without sniff
// (no name could deny the flow) bytes go upstream as they come and the
// name, if any, is only noted for the audit event. Each direction
// half-closes on EOF; an error or a cut aborts both.
type pipe struct {
	n     *Stack
	flow  *netpolicy.Flow
	guest net.Conn
	ep    abortable // the guest side's endpoint, to answer a cut with a RST
	up    net.Conn
	ev    Event
	start time.Time
	sniff bool
	// seen holds the first guest bytes while the name is only noted (no
	// sniff), until the sniffer has decided; nil once it has.
	seen []byte

	in, out atomic.Int64 // bytes to and from the guest
	cutOnce sync.Once
	// denied is why the policy cut the flow (the name it spoke, the byte
	// budget); nil while it has not. Written once, by cut.
	denied atomic.Pointer[string]
	// broken is set when an I/O error, not the policy, aborted the flow.
	broken atomic.Bool
}

const copyBuf = 64 << 10

func (p *pipe) run() {
	n := p.n
	if !n.addCloser(p.guest) {
		p.up.Close()
		return
	}
	if !n.addCloser(p.up) {
		n.dropCloser(p.guest)
		p.guest.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owned by run, which waits below
		defer wg.Done()
		p.copy(p.guest, p.up, &p.in)
	}()
	p.fromGuest()
	wg.Wait()
	n.dropCloser(p.guest)
	n.dropCloser(p.up)
	p.guest.Close()
	p.up.Close()
	ev := p.ev
	ev.BytesIn, ev.BytesOut, ev.Duration = p.in.Load(), p.out.Load(), n.cfg.Now().Sub(p.start)
	switch r := p.denied.Load(); {
	case r != nil:
		ev.Kind, ev.Reason = Denied, *r
	case p.broken.Load():
		ev.Kind, ev.Reason = Allowed, ev.Reason+"; reset"
	default:
		ev.Kind = Allowed
	}
	n.report(ev)
}

// fromGuest sniffs the first bytes, then copies guest→upstream.
func (p *pipe) fromGuest() {
	if !p.sniff {
		p.seen = make([]byte, 0, 512)
	}
	if p.sniff {
		prefix, ok := p.sniffPrefix()
		if !ok {
			return
		}
		if len(prefix) > 0 {
			if !p.count(len(prefix), &p.out) {
				return
			}
			if _, err := p.up.Write(prefix); err != nil {
				p.cut()
				return
			}
		}
	}
	p.copy(p.up, p.guest, &p.out)
}

// sniffPrefix reads until the sniffer decides. It returns the bytes read
// and whether the flow may go on.
func (p *pipe) sniffPrefix() ([]byte, bool) {
	buf := make([]byte, 0, 4<<10)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), sniff.MaxPrefix))
			copy(grown, buf)
			buf = grown
		}
		m, err := p.guest.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		res, serr := sniff.Sniff(buf)
		switch {
		case serr == nil && res.Kind == sniff.Opaque:
			return buf, true
		case serr == nil:
			return buf, p.checkName(res)
		case !errors.Is(serr, sniff.ErrMore):
			p.denyCut(res.Kind.String() + ": " + serr.Error())
			return nil, false
		}
		if len(buf) >= sniff.MaxPrefix {
			p.denyCut("first bytes exceed the sniff limit")
			return nil, false
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) == 0 {
				// The guest shut its side before sending anything: pass
				// the half-close on; the server may still talk.
				if cw, ok := p.up.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
				}
				return nil, false
			}
			// A reset, or EOF in the middle of a ClientHello or request
			// head: nothing undecided goes upstream.
			p.cut()
			return nil, false
		}
	}
}

func (p *pipe) checkName(res sniff.Result) bool {
	kind := "TLS SNI"
	if res.Kind == sniff.HTTP {
		kind = "HTTP Host"
	}
	d := p.flow.CheckName(kind, res.Name)
	if d.Allow && res.ECH && p.flow.ByName {
		d.Allow, d.Reason = false, "TLS encrypted client hello hides the server name"
	}
	if !d.Allow {
		p.ev.Name = res.Name
		p.denyCut(d.Reason)
		return false
	}
	if res.Name != "" {
		p.ev.Name = res.Name
	}
	return true
}

// denyCut cuts the flow for the policy; the flow's one event, at its
// end, is then a denial with this reason.
func (p *pipe) denyCut(reason string) {
	reason = "cut: " + reason
	p.denied.CompareAndSwap(nil, &reason)
	p.cut()
}

// copy moves bytes one way, counting them against the byte budget, and
// half-closes dst at EOF.
func (p *pipe) copy(dst, src net.Conn, counter *atomic.Int64) {
	buf := make([]byte, copyBuf)
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if !p.count(m, counter) {
				return
			}
			if counter == &p.out && p.seen != nil {
				p.note(buf[:m])
			}
			if _, werr := dst.Write(buf[:m]); werr != nil {
				p.broken.Store(true)
				p.cut()
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			return
		}
		if err != nil {
			p.broken.Store(true)
			p.cut()
			return
		}
	}
}

// note feeds the sniffer guest bytes that already went upstream, for
// the audit event's name only.
func (p *pipe) note(b []byte) {
	p.seen = append(p.seen, b[:min(len(b), sniff.MaxPrefix-len(p.seen))]...)
	res, err := sniff.Sniff(p.seen)
	if errors.Is(err, sniff.ErrMore) && len(p.seen) < sniff.MaxPrefix {
		return
	}
	if err == nil && res.Name != "" && p.ev.Name == "" {
		p.ev.Name = res.Name
	}
	p.seen = nil
}

// count adds m bytes; past the box's byte budget it cuts the flow.
func (p *pipe) count(m int, counter *atomic.Int64) bool {
	counter.Add(int64(m))
	if counter == &p.in {
		p.n.stats.bytesIn.Add(int64(m))
	} else {
		p.n.stats.bytesOut.Add(int64(m))
	}
	if !p.flow.Count(int64(m)) {
		p.denied.CompareAndSwap(nil, new(cutByteLimit))
		p.cut()
		return false
	}
	return true
}

// cut aborts both sides: a RST to the guest, the upstream closed.
func (p *pipe) cut() {
	p.cutOnce.Do(func() {
		if p.ep != nil {
			p.ep.Abort()
		}
		p.guest.Close()
		p.up.Close()
	})
}
