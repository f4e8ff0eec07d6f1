package client

import (
	"bytes"
	"io"
	"testing"
)

// FuzzReadSSE: any stream from a server parses without a panic, and the
// parse of a stream does not depend on how it is split into reads.
func FuzzReadSSE(f *testing.F) {
	f.Add([]byte("retry: 2000\n\nid: 1\nevent: run.started\ndata: {\"a\":1}\n\n: heartbeat\n\nid: 2\ndata: x\ndata: y\n\n"))
	f.Add([]byte("data:no space\r\n\r\nid\ndata\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		var got []message
		err := readSSE(bytes.NewReader(stream), func(m message) error {
			m.data = bytes.Clone(m.data)
			got = append(got, m)
			return nil
		})
		if err != nil {
			return // a line over the cap
		}
		var again []message
		readSSE(&oneByte{stream}, func(m message) error { m.data = bytes.Clone(m.data); again = append(again, m); return nil })
		if len(again) != len(got) {
			t.Fatalf("%d messages read whole, %d byte by byte", len(got), len(again))
		}
		for i := range got {
			if got[i].id != again[i].id || !bytes.Equal(got[i].data, again[i].data) {
				t.Fatalf("message %d: %+v whole, %+v byte by byte", i, got[i], again[i])
			}
		}
	})
}

type oneByte struct{ b []byte }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// TestReadSSE: the spec's own examples of field parsing.
func TestReadSSE(t *testing.T) {
	var got []message
	err := readSSE(bytes.NewReader([]byte("data:\ndata\n\nid: 7\ndata: a\r\ndata:  b\n\n")), func(m message) error {
		m.data = bytes.Clone(m.data)
		got = append(got, m)
		return nil
	})
	if err != nil || len(got) != 2 || string(got[0].data) != "\n" || got[1].id != "7" || string(got[1].data) != "a\n b" {
		t.Fatalf("%+v %v", got, err)
	}
}
