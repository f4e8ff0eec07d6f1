// Package netbench is both ends of the traffic `voidbox bench net` times:
// the client runs inside the guest (the guest init binary started as a
// command, `/init netbench ...`, so no other program is needed there) and
// the servers run on the host, on 127.0.0.1. The client times itself with
// the guest's clock, so what it reports is what a program in the box sees:
// its own stack, the virtio device, the host backend and the host server.
// Standard library only: the guest init links it.
package netbench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Command is the guest init's argument that selects the client.
const Command = "netbench"

// Client runs one measurement in the guest and prints its result lines:
//
//	bulk ADDR BYTES   send BYTES to a sink; prints "bulk BYTES NANOS"
//	crr ADDR N        N connect+request+response+close; prints "crr NANOS" each
func Client(args []string, out io.Writer) error {
	if len(args) != 3 {
		return errors.New("usage: netbench bulk ADDR BYTES | crr ADDR N")
	}
	n, err := strconv.ParseInt(args[2], 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("netbench: %q is not a positive count", args[2])
	}
	switch args[0] {
	case "bulk":
		d, err := bulk(args[1], n)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "bulk %d %d\n", n, d.Nanoseconds())
		return err
	case "crr":
		w := bufio.NewWriter(out)
		for i := int64(0); i < n; i++ {
			d, err := crr(args[1])
			if err != nil {
				return fmt.Errorf("crr %d: %w", i+1, err)
			}
			fmt.Fprintf(w, "crr %d\n", d.Nanoseconds())
		}
		return w.Flush()
	}
	return fmt.Errorf("netbench: unknown measurement %q", args[0])
}

const chunk = 256 << 10

// bulk sends n bytes and waits for the sink to say it read them all, so
// the time covers delivery, not just filling local buffers.
func bulk(addr string, n int64) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	buf := make([]byte, chunk)
	start := time.Now()
	for left := n; left > 0; {
		m := min(left, chunk)
		if _, err := c.Write(buf[:m]); err != nil {
			return 0, err
		}
		left -= m
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		return 0, fmt.Errorf("waiting for the sink: %w", err)
	}
	d := time.Since(start)
	if got := int64(binary.BigEndian.Uint64(ack[:])); got != n {
		return 0, fmt.Errorf("the sink read %d of %d bytes", got, n)
	}
	return d, nil
}

// crr is one connection: connect, send one byte, read the echo, close.
func crr(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Write([]byte{'x'}); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	c.Close()
	return time.Since(start), nil
}

// Result is what the client printed, parsed on the host.
type Result struct {
	BulkBytes int64
	Bulk      time.Duration
	CRR       []time.Duration
}

// Parse reads the client's lines (untrusted guest output: every line must
// be one of the client's).
func Parse(s string) (Result, error) {
	var r Result
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "bulk":
			n, err1 := strconv.ParseInt(f[1], 10, 64)
			ns, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil || n <= 0 || ns <= 0 {
				return Result{}, fmt.Errorf("netbench: bad line %q", line)
			}
			r.BulkBytes, r.Bulk = n, time.Duration(ns)
		case len(f) == 2 && f[0] == "crr":
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || ns <= 0 {
				return Result{}, fmt.Errorf("netbench: bad line %q", line)
			}
			r.CRR = append(r.CRR, time.Duration(ns))
		default:
			return Result{}, fmt.Errorf("netbench: bad line %q", line)
		}
	}
	return r, nil
}
