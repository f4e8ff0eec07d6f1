package storetest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// StartRedis starts a private redis-server (Debian package redis-server;
// Valkey's valkey-server takes the same flags) on a free loopback port, with
// its own directory and no persistence, and stops it, by its PID, when the
// test ends. It returns host:port. A missing server fails the test: the
// Valkey store must never go untested silently.
func StartRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if bin, err = exec.LookPath("valkey-server"); err != nil {
			t.Fatal("redis-server not found: install the Debian package redis-server " +
				"(scripts/lib.sh does it for tests, as root on Debian)")
		}
	}
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		addr, err := tryStartRedis(t, bin, dir)
		if err == nil {
			return addr
		}
		if attempt == 2 {
			t.Fatalf("starting %s: %v", bin, err)
		}
	}
}

func tryStartRedis(t testing.TB, bin, dir string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // a small race with another process taking the port: the caller retries
	var log bytes.Buffer
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
		"--logfile", filepath.Join(dir, "redis.log"), "--pidfile", "")
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(addr) == nil {
			t.Cleanup(stop)
			return addr, nil
		}
		select {
		case err := <-exited:
			logged, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return "", fmt.Errorf("exited (%v): %s%s", err, log.String(), logged)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("no answer on %s in 10s", addr)
		}
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
