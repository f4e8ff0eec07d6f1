package store

import (
	"errors"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	good := map[string]Location{
		"sqlite:/var/lib/voidbox/state.db": {Kind: "sqlite", Path: "/var/lib/voidbox/state.db"},
		"sqlite:state.db":                  {Kind: "sqlite", Path: "state.db"},
		"fs:/srv/vb/":                      {Kind: "fs", Path: "/srv/vb"},
		"valkey://127.0.0.1:6400/3":        {Kind: "valkey", Valkey: ValkeyConfig{Addr: "127.0.0.1:6400", DB: 3, Prefix: "voidbox"}},
		"redis://localhost":                {Kind: "valkey", Valkey: ValkeyConfig{Addr: "localhost:6379", Prefix: "voidbox"}},
		"valkey://u:p%40ss@[::1]:7000/0?prefix=a&data=/d/": {Kind: "valkey", Valkey: ValkeyConfig{
			Addr: "[::1]:7000", Username: "u", Password: "p@ss", Prefix: "a", DataDir: "/d"}},
	}
	for in, want := range good {
		got, err := ParseURL(in)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "state.db", "sqlite:", "fs:", "sqlite://x", "postgres://h/db", "valkey://", "valkey:host:1",
		"valkey://h:0/0", "valkey://h:99999", "valkey://h/abc", "valkey://h/0?pool=3", "valkey://h/0?prefix=",
		"valkey://h/0?prefix=a&prefix=b", "valkey://h/0?data=", "valkey://h/0#x",
	} {
		if _, err := ParseURL(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseURL(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func TestIDs(t *testing.T) {
	var g idGen
	prev := ""
	for i := range 1000 {
		id := g.next(fixedTime)
		if !ValidID(id) || id <= prev {
			t.Fatalf("id %d: %q after %q", i, id, prev)
		}
		prev = id
	}
	for _, bad := range []string{"", "x", "0000000000000000000000000h", "0000000000000000000000000/", "../00000000000000000000000"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

var fixedTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
