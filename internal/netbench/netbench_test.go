package netbench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The client against the servers over host loopback: the same code the
// guest runs, without a VM.
func TestClientAgainstServers(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	if err := Client([]string{"bulk", s.Sink.Addr().String(), fmt.Sprint(3 << 20)}, &out); err != nil {
		t.Fatal(err)
	}
	var n, ns int64
	if _, err := fmt.Sscanf(out.String(), "bulk %d %d\n", &n, &ns); err != nil || n != 3<<20 || ns <= 0 {
		t.Fatalf("bulk: %q %v", out.String(), err)
	}
	out.Reset()
	if err := Client([]string{"crr", s.Echo.Addr().String(), "20"}, &out); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 20 || !strings.HasPrefix(lines[19], "crr ") {
		t.Fatalf("crr: %q", out.String())
	}
	for _, bad := range [][]string{{"bulk", "x"}, {"crr", "127.0.0.1:1", "0"}, {"udp", "127.0.0.1:1", "1"}} {
		if err := Client(bad, &out); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestParse(t *testing.T) {
	r, err := Parse("crr 1000\ncrr 3000\ncrr 2000\n")
	if err != nil || len(r.CRR) != 3 || r.CRR[1].Microseconds() != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = Parse("bulk 1048576 1000000000\n")
	if err != nil || r.BulkBytes != 1<<20 || r.Bulk.Seconds() != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := Parse("crr x\n"); err == nil {
		t.Error("garbage parsed")
	}
}
