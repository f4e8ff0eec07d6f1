package oci_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// registryKinds are the registries every pull test runs against:
// go-containerregistry's in-process one, and Debian's docker-registry
// (CNCF distribution 2.8) as a real process on a loopback port.
var registryKinds = []string{"ggcr", "distribution"}

// startRegistry returns the host:port of a fresh registry of kind, with
// wrap (nil: none) in front of it.
func startRegistry(t *testing.T, kind string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	if kind == "ggcr" {
		return newRegistry(t, wrap)
	}
	backend := startDistribution(t)
	if wrap == nil {
		return backend
	}
	u, _ := url.Parse("http://" + backend)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = nopLogger()
	// The proxy must keep the Host the client used, so the registry's
	// upload Location URLs point back at the proxy.
	director := proxy.Director
	proxy.Director = func(r *http.Request) { host := r.Host; director(r); r.Host = host }
	return newServer(t, wrap(proxy))
}

// startDistribution runs docker-registry on a free loopback port with its
// storage in a temp dir, and stops it (by PID) when the test ends.
func startDistribution(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry not found: install the docker-registry package (the scripts' ensure_host_packages does)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry on %s did not answer /v2/ within 15s: %v\n%s", addr, err, strings.TrimSpace(logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
