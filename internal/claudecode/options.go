package claudecode

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"

	"github.com/voidbox/voidbox/internal/deb"
	"github.com/voidbox/voidbox/internal/guestimage"
)

// Build inputs and their defaults.
const (
	// DefaultVersion is the claude-code version voidbox is tested with.
	DefaultVersion = "2.1.332"
	// VersionEnv overrides DefaultVersion.
	VersionEnv = "VOIDBOX_CLAUDE_CODE_VERSION"
	// DefaultRegistry is the npm registry the binary comes from.
	DefaultRegistry = "https://registry.npmjs.org"
	// NPMPackage is the package holding the glibc x86-64 binary. The
	// @anthropic-ai/claude-code package itself is only a wrapper that picks
	// one of these per platform at install time; it needs no Node.
	NPMPackage = "@anthropic-ai/claude-code-linux-x64"
)

// Debian packages the flavour takes files from: glibc for the binary and
// for bash, and bash with its terminfo library for the Bash tool.
var debianPackages = []string{"libc6", "libtinfo6", "bash"}

// Options configure BuildImage. The zero value builds DefaultVersion (or
// $VOIDBOX_CLAUDE_CODE_VERSION) into the default cache.
type Options struct {
	// CacheDir is the voidbox cache root; "" means guestimage.CacheRoot's
	// default ($VOIDBOX_CACHE_DIR, $XDG_CACHE_HOME/voidbox, ~/.cache/voidbox).
	CacheDir string
	// Version is the claude-code version; "" means $VOIDBOX_CLAUDE_CODE_VERSION
	// or DefaultVersion.
	Version string
	// Progress receives one line per step and download progress; nil is silent.
	Progress io.Writer
	// Refresh re-resolves the Debian package versions and builds again if
	// they changed, instead of reusing any flavour of Version.
	Refresh bool
	// Registry is the npm registry base URL; "" means DefaultRegistry.
	Registry string
	// HTTPClient fetches from the registry; nil means http.DefaultClient
	// (which honours HTTPS_PROXY).
	HTTPClient *http.Client
	// Debian provides the Debian packages; nil means the host's apt.
	Debian deb.Source
}

// versionRE accepts npm semver versions, which also become path elements.
var versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// resolveVersion picks the version to use and checks its form.
func resolveVersion(v string) (string, error) {
	if v == "" {
		v = os.Getenv(VersionEnv)
	}
	if v == "" {
		v = DefaultVersion
	}
	if len(v) > 64 || !versionRE.MatchString(v) {
		return "", fmt.Errorf("%w: claude-code version %q: want an npm version such as %s", ErrInvalid, v, DefaultVersion)
	}
	return v, nil
}

func (o *Options) fill() error {
	v, err := resolveVersion(o.Version)
	if err != nil {
		return err
	}
	o.Version = v
	if o.CacheDir, err = guestimage.CacheRoot(o.CacheDir); err != nil {
		return err
	}
	if o.Registry == "" {
		o.Registry = DefaultRegistry
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Debian == nil {
		o.Debian = &deb.Apt{Progress: o.Progress}
	}
	return nil
}

// progress writes one line to w, if there is a w.
func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
