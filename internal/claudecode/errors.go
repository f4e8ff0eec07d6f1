package claudecode

import (
	"errors"
	"fmt"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrImageMissing: the flavour has not been built (see MissingError).
	ErrImageMissing = errors.New("claude-code image missing")
	// ErrIntegrity: a download did not match the checksum the registry published.
	ErrIntegrity = errors.New("integrity check failed")
	// ErrInvalid: a bad argument (version, skill name, config).
	ErrInvalid = errors.New("invalid argument")
)

// MissingError is FindImage's answer when the flavour is not in the cache.
// It is ErrImageMissing; its message ends with the command that builds it.
type MissingError struct {
	Version  string
	CacheDir string
	// Command builds the missing flavour, e.g. "voidbox image build claude".
	Command string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("claude-code %s is not built in %s; build it with: %s", e.Version, e.CacheDir, e.Command)
}

// Is makes errors.Is(err, ErrImageMissing) true.
func (e *MissingError) Is(target error) bool { return target == ErrImageMissing }
