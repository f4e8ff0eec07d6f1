package bench

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.N != 100 || s.Min != time.Millisecond || s.Max != 100*time.Millisecond || s.P50 != 50*time.Millisecond || s.P95 != 95*time.Millisecond {
		t.Fatalf("%+v", s)
	}
	if one := Summarize([]time.Duration{7}); one.P50 != 7 || one.P95 != 7 {
		t.Fatalf("%+v", one)
	}
	if Summarize(nil).N != 0 {
		t.Fatal("empty sample")
	}
}
