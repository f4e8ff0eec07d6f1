// Command nettry is the network tests' client inside the guest, for what
// busybox cannot do: UDP, a TLS client that checks certificates against
// the system bundle, a chosen SNI, a flow held open. Every error is
// printed with the time it took, so a test can tell a refusal from a hang.
//
//	nettry dial HOST:PORT            TCP connect, write a byte, read to EOF
//	nettry hold HOST:PORT SECONDS    TCP connect and keep it open
//	nettry get [-sni NAME] URL       HTTPS/HTTP GET, system CA bundle
//	nettry udp HOST:PORT MESSAGE     one datagram, wait for the answer
//	nettry ping ADDRESS              one ICMP echo (root), print the answer's type/code
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

func main() {
	start := time.Now()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "nettry: %v (after %d ms)\n", err, time.Since(start).Milliseconds())
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: nettry dial|hold|get|udp ...")
	}
	const timeout = 20 * time.Second // a hang guard only: refusals take milliseconds
	switch args[0] {
	case "dial":
		// Connect, send nothing, shut our side: the server sees EOF and
		// closes, so reading to EOF ends at once on any server.
		c, err := net.DialTimeout("tcp", args[1], timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		c.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(c)
		fmt.Printf("%s", b)
		return err
	case "ping":
		c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return err
		}
		defer c.Close()
		msg, _ := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: 1, Data: []byte("nettry")}}).Marshal(nil)
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: net.ParseIP(args[1])}); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(timeout))
		buf := make([]byte, 1500)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil {
			return err
		}
		fmt.Printf("%v from %v code %d\n", m.Type, from, m.Code)
		return nil
	case "hold":
		c, err := net.DialTimeout("tcp", args[1], timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		s, _ := strconv.Atoi(args[2])
		fmt.Println("connected")
		time.Sleep(time.Duration(s) * time.Second)
		return nil
	case "get":
		fs := flag.NewFlagSet("get", flag.ContinueOnError)
		sni := fs.String("sni", "", "TLS server name to send instead of the URL's host")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: *sni}}
		if *sni != "" {
			// Check the certificate against the URL's name while sending another.
			tr.TLSClientConfig.InsecureSkipVerify = true
		}
		resp, err := (&http.Client{Timeout: timeout, Transport: tr}).Get(fs.Arg(0))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		fmt.Printf("%s", b)
		return err
	case "udp":
		c, err := net.Dial("udp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		if _, err := c.Write([]byte(args[2])); err != nil {
			return err
		}
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		fmt.Printf("%s\n", buf[:n])
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}
