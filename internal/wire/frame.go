// Package wire is the host↔guest protocol: a length-prefixed frame codec and the
// messages carried in frames. It depends on the standard library only, because
// both the host and the guest init link it and the guest must stay small.
//
// A frame is a 4-byte big-endian payload length, a 1-byte message type and the
// payload. The payload of a control message is JSON; the payload of a data
// message (stdin, stdout, stderr, file data) is raw bytes.
//
// Everything read from the guest is untrusted: Reader refuses frames larger than
// its limit before allocating, so a hostile peer cannot make the host allocate
// more than MaxPayload bytes per frame.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version exchanged in the handshake. Bump it on any
// incompatible change to frames or messages. 2: an empty allowlist allows
// no command (1 read it as no allowlist), Policy.DiskBytes. 3: Hello.Storage
// (a guest that ignored it would run commands outside the image asked for).
// 4: Hello.Network (the guest configures its interface) and Hello.CACerts.
// 5: Hello.Park and TResume (a guest that ignored Park would start the
// multiplexer under a host that is about to snapshot it).
const Version = 5

// HeaderSize is the length of a frame header: payload length (4) + type (1).
const HeaderSize = 5

// MaxPayload is the default and largest payload size a Reader accepts.
// Data messages are chunked below this size by the writers.
const MaxPayload = 1 << 20

// ChunkSize is the size writers use to split streamed data.
const ChunkSize = 32 << 10

// ErrFrameTooLarge reports a frame whose declared payload exceeds the limit.
var ErrFrameTooLarge = errors.New("frame too large")

// Frame is one decoded frame. Payload is owned by the caller after ReadFrame.
type Frame struct {
	Type    Type
	Payload []byte
}

// Reader decodes frames from a byte stream.
type Reader struct {
	r     io.Reader
	limit int
	hdr   [HeaderSize]byte
}

// NewReader returns a Reader accepting payloads up to limit bytes
// (0 or anything above MaxPayload means MaxPayload).
func NewReader(r io.Reader, limit int) *Reader {
	if limit <= 0 || limit > MaxPayload {
		limit = MaxPayload
	}
	return &Reader{r: r, limit: limit}
}

// ReadFrame reads the next frame. It returns io.EOF only at a clean frame
// boundary; a stream that ends inside a frame yields io.ErrUnexpectedEOF.
func (r *Reader) ReadFrame() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(r.hdr[:4])
	t := Type(r.hdr[4])
	if n > uint32(r.limit) {
		return Frame{}, fmt.Errorf("%w: %s frame of %d bytes exceeds limit %d", ErrFrameTooLarge, t, n, r.limit)
	}
	if !t.Known() {
		return Frame{}, fmt.Errorf("%w: type %d", ErrUnknownType, uint8(t))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r.r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return Frame{Type: t, Payload: p}, nil
}

// WriteFrame writes one frame in a single Write call so that concurrent
// writers on a stream that serialises whole writes never interleave frames.
func WriteFrame(w io.Writer, t Type, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: %s frame of %d bytes", ErrFrameTooLarge, t, len(payload))
	}
	buf := make([]byte, HeaderSize+len(payload))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(payload)))
	buf[4] = byte(t)
	copy(buf[HeaderSize:], payload)
	_, err := w.Write(buf)
	return err
}
