package oci_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/voidbox/voidbox/internal/oci"
)

// basicAuth demands user:pass like a registry behind htpasswd.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "voiduser" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="voidbox-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestRegistryWithBasicAuth(t *testing.T) {
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) { testRegistryWithBasicAuth(t, kind) })
	}
}

func testRegistryWithBasicAuth(t *testing.T, kind string) {
	s := isolate(t)
	host := startRegistry(t, kind, basicAuth)
	ref := refAt(host, "private/img:1")
	r, _ := name.ParseReference(ref)
	img := testImage(t)
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "voiduser", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}

	_, err := s.Pull(ctx, ref, oci.PullOptions{})
	if !errors.Is(err, oci.ErrUnauthorized) || !strings.Contains(err.Error(), "docker login "+host) {
		t.Fatalf("anonymous pull from a registry that wants a password: %v", err)
	}

	// A docker config in $DOCKER_CONFIG, as `docker login` writes it.
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("voiduser:s3cret"))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", cfgDir)
	im, err := s.Pull(ctx, ref, oci.PullOptions{})
	if err != nil {
		t.Fatalf("pull with credentials in $DOCKER_CONFIG: %v", err)
	}
	if im.Digest != digestOf(t, img) {
		t.Errorf("digest %s", im.Digest)
	}

	// And in ~/.docker/config.json when DOCKER_CONFIG is unset. docker/cli
	// reads $HOME once per process (a sync.Once), so only one test may.
	if kind != registryKinds[0] {
		return
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", home)
	s2 := must[*oci.Store](t)(oci.Open(t.TempDir()))
	if _, err := s2.Pull(ctx, ref, oci.PullOptions{}); err != nil {
		t.Fatalf("pull with credentials in ~/.docker/config.json: %v", err)
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	s := isolate(t)
	// go-containerregistry would fall back to HTTP for these (RFC 1918, *.localhost);
	// nothing is contacted: the transport refuses before dialling.
	for _, ref := range []string{"10.255.255.1:5000/x:1", "192.168.255.1/x:1", "reg.localhost:5000/x:1"} {
		_, err := s.Pull(ctx, ref, oci.PullOptions{Transport: refuseDial{}})
		if !errors.Is(err, oci.ErrInsecure) {
			t.Errorf("pull %s over plain HTTP: %v, want a refusal", ref, err)
		}
	}
}

// refuseDial fails every request it is given: any request reaching it is
// an https one to a non-loopback host, which this test must not send.
type refuseDial struct{}

func (refuseDial) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("test transport: not sending %s", r.URL)
}
