package store

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Location is a parsed store URL.
type Location struct {
	Kind   string // "sqlite", "fs" or "valkey"
	Path   string // sqlite: the database file; fs: the directory
	Valkey ValkeyConfig
}

// ParseURL reads the three forms a store is named by:
//
//	sqlite:PATH                         a SQLite database file
//	fs:DIR                              a directory of files
//	valkey://[USER:PASS@]HOST[:PORT][/DB][?prefix=P&data=DIR]
//	                                    Valkey or Redis (redis:// is the same);
//	                                    PORT 6379 and DB 0 by default
func ParseURL(s string) (Location, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Location{}, fmt.Errorf("store %q: want sqlite:PATH, fs:DIR or valkey://HOST:PORT/DB: %w", s, ErrInvalid)
	}
	switch scheme {
	case "sqlite", "fs":
		if rest == "" || strings.HasPrefix(rest, "//") {
			return Location{}, fmt.Errorf("store %q: want %s:PATH with a file path: %w", s, scheme, ErrInvalid)
		}
		return Location{Kind: scheme, Path: filepath.Clean(rest)}, nil
	case "valkey", "redis":
		cfg, err := parseValkeyURL(s)
		if err != nil {
			return Location{}, fmt.Errorf("store %q: %w", s, err)
		}
		return Location{Kind: "valkey", Valkey: cfg}, nil
	}
	return Location{}, fmt.Errorf("store %q: unknown kind %q (sqlite, fs or valkey): %w", s, scheme, ErrInvalid)
}

func parseValkeyURL(s string) (ValkeyConfig, error) {
	u, err := url.Parse(s)
	if err != nil {
		return ValkeyConfig{}, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	if u.Opaque != "" || u.Host == "" {
		return ValkeyConfig{}, fmt.Errorf("want %s://HOST:PORT/DB: %w", u.Scheme, ErrInvalid)
	}
	cfg := ValkeyConfig{Prefix: "voidbox"}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "6379"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return cfg, fmt.Errorf("port %q: %w", port, ErrInvalid)
	}
	cfg.Addr = net.JoinHostPort(host, port)
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || n > 1<<16 {
			return cfg, fmt.Errorf("database %q: want a number: %w", db, ErrInvalid)
		}
		cfg.DB = n
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	for k, v := range u.Query() {
		switch {
		case len(v) != 1:
			return cfg, fmt.Errorf("parameter %s given %d times: %w", k, len(v), ErrInvalid)
		case k == "prefix":
			if err := checkText("prefix", v[0], 64, false); err != nil {
				return cfg, err
			}
			cfg.Prefix = v[0]
		case k == "data":
			if v[0] == "" {
				return cfg, fmt.Errorf("data: empty: %w", ErrInvalid)
			}
			cfg.DataDir = filepath.Clean(v[0])
		default:
			return cfg, fmt.Errorf("unknown parameter %q (prefix, data): %w", k, ErrInvalid)
		}
	}
	if u.Fragment != "" {
		return cfg, fmt.Errorf("unexpected fragment: %w", ErrInvalid)
	}
	return cfg, nil
}

// Open opens the store named by a URL (see ParseURL). A Valkey store with no
// data= keeps its large outputs under $XDG_STATE_HOME/voidbox/valkey/.
func Open(ctx context.Context, rawURL string) (Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// Each case checks err itself: a nil *SQLite in a Store is not a nil Store.
	switch loc.Kind {
	case "sqlite":
		s, err := OpenSQLite(ctx, loc.Path)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "fs":
		s, err := OpenFS(ctx, loc.Path)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	if loc.Valkey.DataDir == "" {
		base := os.Getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("valkey store: no data= and no home directory: %w", err)
			}
			base = filepath.Join(home, ".local", "state")
		}
		name := strings.NewReplacer(":", "_", "/", "_").Replace(fmt.Sprintf("%s_%d_%s", loc.Valkey.Addr, loc.Valkey.DB, loc.Valkey.Prefix))
		loc.Valkey.DataDir = filepath.Join(base, "voidbox", "valkey", name)
	}
	s, err := OpenValkey(ctx, loc.Valkey)
	if err != nil {
		return nil, err
	}
	return s, nil
}
