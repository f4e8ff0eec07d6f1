package oauthlogin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// read reads and parses the file: its login and its bytes (for Encode).
// Errors name the file and never include a token.
func (s *Source) read() (Login, []byte, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return Login{}, nil, fmt.Errorf("%w: %s does not exist (%s)", s.f.ErrNoLogin, s.path, s.f.LoginAgain)
	}
	if err != nil {
		return Login{}, nil, fmt.Errorf("reading %s: %w", s.f.What, err)
	}
	l, err := s.f.Parse(b)
	if err != nil {
		return Login{}, nil, fmt.Errorf("%w: %s: %w", s.f.ErrCorrupt, s.path, err)
	}
	return l, b, nil
}

// writeFile replaces path atomically: a 0600 temporary file in the same
// directory, synced, renamed over it. A reader (the CLI itself, another
// voidbox) sees the old file or the new one, never half of one.
func writeFile(path string, data []byte, what string) error {
	fail := func(err error) error { return fmt.Errorf("writing %s: %w", what, err) }
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return nil
}
