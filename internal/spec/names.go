package spec

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

var (
	// Box and step names become file names, event keys and VM names.
	stageNameRE = regexp.MustCompile(`^[a-z0-9_-]{1,63}$`)
	specNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	// Skill names become directory names in the guest.
	skillNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// A command is a bare name looked up on PATH, or an absolute path.
	commandRE = regexp.MustCompile(`^(/[^\s\x00]+|[^/\s\x00]+)$`)
	// durationRE is the unsigned subset of Go's time.ParseDuration syntax.
	durationRE = regexp.MustCompile(`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`)
)

func checkStageName(s string) error {
	if !stageNameRE.MatchString(s) {
		return fmt.Errorf("invalid name %q: want 1-63 of a-z, 0-9, '_' and '-'", s)
	}
	return nil
}

func checkSpecName(s string) error {
	if !specNameRE.MatchString(s) {
		return fmt.Errorf("invalid name %q: want letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128)", s)
	}
	return nil
}

func checkSkillName(s string) error {
	if !skillNameRE.MatchString(s) {
		return fmt.Errorf("invalid skill name %q: want letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)", s)
	}
	return nil
}

func checkEnvName(s string) error {
	if !envNameRE.MatchString(s) {
		return fmt.Errorf("invalid environment variable name %q", s)
	}
	return nil
}

func checkCommand(s string) error {
	if !commandRE.MatchString(s) {
		return fmt.Errorf("invalid command %q: want a name or an absolute path, without spaces", s)
	}
	return nil
}

// checkGuestPath accepts absolute, clean paths inside the guest.
func checkGuestPath(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.ContainsRune(p, 0) {
		return fmt.Errorf("invalid guest path %q: want an absolute, clean path such as /workspace/output.json", p)
	}
	return nil
}

// checkHTTPURL accepts http and https URLs with a host and no credentials:
// secrets belong in the host environment, never in a spec.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q", s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q: want http:// or https:// and a host", s)
	}
	if u.User != nil {
		return fmt.Errorf("URL %q carries credentials: keep secrets out of specs", u.Redacted())
	}
	return nil
}
