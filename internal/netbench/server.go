package netbench

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// Servers are the host ends: a sink for bulk (reads to EOF, answers the
// byte count) and an echo for CRR (one byte back, then close), both on
// 127.0.0.1. Close stops them and waits for every connection's goroutine.
type Servers struct {
	Sink, Echo net.Listener
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]struct{} // open connections, closed by Close; guarded by mu
	closed     bool                  // guarded by mu
}

// Start listens on two fresh loopback ports.
func Start() (*Servers, error) {
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sink.Close()
		return nil, err
	}
	s := &Servers{Sink: sink, Echo: echo, conns: map[net.Conn]struct{}{}}
	s.wg.Add(2)
	go s.serve(sink, s.sink)
	go s.serve(echo, s.echo)
	return s, nil
}

// Port is a listener's port.
func Port(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

func (s *Servers) serve(ln net.Listener, handle func(net.Conn)) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() { // joined s.wg above
			defer s.wg.Done()
			defer s.drop(c)
			handle(c)
		}()
	}
}

func (s *Servers) drop(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Servers) sink(c net.Conn) {
	n, _ := io.Copy(io.Discard, c)
	var ack [8]byte
	binary.BigEndian.PutUint64(ack[:], uint64(n))
	c.Write(ack[:])
}

func (s *Servers) echo(c net.Conn) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err == nil {
		c.Write(b[:])
	}
}

// Close stops both servers and every open connection. Idempotent.
func (s *Servers) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.Sink.Close()
	s.Echo.Close()
	s.wg.Wait()
	return nil
}
