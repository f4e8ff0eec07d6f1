package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, TExec, ExecRequest{Argv: []string{"uname", "-r"}, TimeoutMs: 5}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&b, TStdout, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&b, TStdinClose, nil); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&b, 0)
	f, err := r.Expect(TExec)
	if err != nil {
		t.Fatal(err)
	}
	var req ExecRequest
	if err := f.Decode(&req); err != nil {
		t.Fatal(err)
	}
	if strings.Join(req.Argv, " ") != "uname -r" || req.TimeoutMs != 5 {
		t.Fatalf("decoded %+v", req)
	}
	f, err = r.ReadFrame()
	if err != nil || f.Type != TStdout || string(f.Payload) != "hello" {
		t.Fatalf("got %v %q %v", f.Type, f.Payload, err)
	}
	f, err = r.ReadFrame()
	if err != nil || f.Type != TStdinClose || len(f.Payload) != 0 {
		t.Fatalf("got %v %q %v", f.Type, f.Payload, err)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("want EOF at a frame boundary, got %v", err)
	}
}

func header(n uint32, t Type) []byte {
	h := make([]byte, HeaderSize)
	binary.BigEndian.PutUint32(h, n)
	h[4] = byte(t)
	return h
}

func TestReaderRejectsOversizedFrameBeforeAllocating(t *testing.T) {
	// Declares 4 GiB; the reader must refuse from the header alone.
	r := NewReader(bytes.NewReader(header(0xffffffff, TStdout)), 1024)
	_, err := r.ReadFrame()
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("want ErrFrameTooLarge, got %v", err)
	}
}

func TestReaderLimitClampsToMaxPayload(t *testing.T) {
	r := NewReader(bytes.NewReader(header(MaxPayload+1, TStdout)), 1<<30)
	if _, err := r.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("want ErrFrameTooLarge, got %v", err)
	}
}

func TestReaderUnknownType(t *testing.T) {
	r := NewReader(bytes.NewReader(header(0, Type(250))), 0)
	if _, err := r.ReadFrame(); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("want ErrUnknownType, got %v", err)
	}
}

func TestReaderTruncated(t *testing.T) {
	for _, in := range [][]byte{
		{0, 0},                            // inside the header
		append(header(10, TStdout), 1, 2), // inside the payload
	} {
		_, err := NewReader(bytes.NewReader(in), 0).ReadFrame()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%x: want ErrUnexpectedEOF, got %v", in, err)
		}
	}
}

func TestExpectSurfacesPeerError(t *testing.T) {
	var b bytes.Buffer
	_ = WriteJSON(&b, TError, Error{Code: CodeNotFound, Message: "/x: no such file"})
	_, err := NewReader(&b, 0).Expect(TOK)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNotFound || e.Message != "/x: no such file" {
		t.Fatalf("got %v", err)
	}
}

func TestExpectUnexpectedType(t *testing.T) {
	var b bytes.Buffer
	_ = WriteFrame(&b, TStdout, nil)
	if _, err := NewReader(&b, 0).Expect(TOK); err == nil || !strings.Contains(err.Error(), "unexpected stdout frame") {
		t.Fatalf("got %v", err)
	}
}

func TestWriteFrameRefusesOversizedPayload(t *testing.T) {
	if err := WriteFrame(io.Discard, TStdout, make([]byte, MaxPayload+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestTypeNames(t *testing.T) {
	if TExecExit.String() != "exec-exit" || Type(99).String() != "type(99)" {
		t.Fatal("type names")
	}
}
