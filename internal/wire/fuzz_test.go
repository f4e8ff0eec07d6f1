package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrames feeds arbitrary bytes — what a hostile guest could send — to
// the frame reader and every message decoder. It must never panic, never
// allocate past the limit and always make progress or stop with an error.
func FuzzReadFrames(f *testing.F) {
	var seed bytes.Buffer
	_ = WriteJSON(&seed, TWelcome, Welcome{Version: Version, Kernel: "6.1.0"})
	_ = WriteJSON(&seed, TExecExit, ExecExit{ExitCode: 7})
	_ = WriteFrame(&seed, TStdout, []byte("out"))
	f.Add(seed.Bytes())
	f.Add(header(0xffffffff, TStdout))
	f.Add(header(3, TFileInfo))
	f.Add([]byte{0, 0, 0, 2, byte(TPong), '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 4096)
		for i := 0; i < 1000; i++ {
			fr, err := r.ReadFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrFrameTooLarge) && !errors.Is(err, ErrUnknownType) {
					t.Fatalf("unexpected error class: %v", err)
				}
				return
			}
			if len(fr.Payload) > 4096 {
				t.Fatalf("payload of %d bytes passed a 4096-byte limit", len(fr.Payload))
			}
			for _, v := range []any{&Welcome{}, &Reject{}, &Error{}, &ExecStarted{}, &ExecExit{},
				&FileInfo{}, &Pong{}, &Tunnel{}, &Hello{}, &ExecRequest{}, &PtyRequest{}, &WindowSize{}} {
				_ = fr.Decode(v)
			}
		}
	})
}
