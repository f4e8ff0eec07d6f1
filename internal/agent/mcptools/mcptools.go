// Package mcptools connects the agent to MCP servers and offers their tools
// to the model as tools.Tool values, named "<server>__<tool>".
//
// Stdio servers are child processes (the MCP go-sdk CommandTransport);
// HTTP servers are reached with the streamable HTTP transport. A server that
// cannot start or list its tools fails Connect with its stderr tail in the
// error. A server that dies later turns its tools' calls into error results
// for the model; nothing waits on it beyond the call's own timeout.
package mcptools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/voidbox/voidbox/internal/agent/tools"
)

// Server configures one MCP server: Command for stdio, URL for HTTP.
type Server struct {
	Name    string
	Command string
	Args    []string
	Env     []string // KEY=VALUE, added to Options.Env
	URL     string
}

// Options apply to every server.
type Options struct {
	// Dir is the working directory of stdio servers.
	Dir string
	// Env is the base environment of stdio servers.
	Env []string
	// StartTimeout bounds starting one server and listing its tools;
	// DefaultStartTimeout when zero.
	StartTimeout time.Duration
	// HTTPClient is used for HTTP servers; http.DefaultClient when nil.
	HTTPClient *http.Client
}

// DefaultStartTimeout is how long a server may take to start and list tools.
const DefaultStartTimeout = 30 * time.Second

// terminateGrace is how long a stdio server gets to exit after its stdin
// closes, and again after SIGTERM, before it is killed.
const terminateGrace = 2 * time.Second

// Set is a group of connected servers. Close it when done.
type Set struct {
	conns []*conn
	tools []tools.Tool

	closeOnce sync.Once
	closeErr  error
}

// conn is one connected server.
type conn struct {
	name    string
	session *mcp.ClientSession
	stderr  *tail // nil for HTTP servers
}

// Connect starts or connects to every server and lists its tools. On error,
// every server already started is closed again.
func Connect(ctx context.Context, servers []Server, opts Options) (*Set, error) {
	s := &Set{}
	seen := map[string]string{}
	for _, srv := range servers {
		c, list, err := connect(ctx, srv, opts)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("mcp server %q: %w", srv.Name, err)
		}
		s.conns = append(s.conns, c)
		for _, t := range list {
			tool := c.tool(t)
			if prev, dup := seen[tool.Name]; dup {
				_ = s.Close()
				return nil, fmt.Errorf("mcp server %q: tool %q is named %s, like tool %s", srv.Name, t.Name, tool.Name, prev)
			}
			seen[tool.Name] = fmt.Sprintf("%q of server %q", t.Name, srv.Name)
			s.tools = append(s.tools, tool)
		}
	}
	return s, nil
}

// Tools returns the tools of every server, in server order.
func (s *Set) Tools() []tools.Tool { return s.tools }

// Close ends every session and stops every stdio server. It is idempotent.
func (s *Set) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for _, c := range s.conns {
			if err := c.session.Close(); err != nil && !exited(err) {
				errs = append(errs, fmt.Errorf("closing mcp server %q: %w", c.name, err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// exited reports whether a Close error only says that the server process
// had already ended (it crashed, or exited with a status when stdin closed).
func exited(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

func connect(ctx context.Context, srv Server, opts Options) (*conn, []*mcp.Tool, error) {
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &conn{name: srv.Name}
	var transport mcp.Transport
	switch {
	case srv.Command != "":
		cmd := exec.Command(srv.Command, srv.Args...)
		cmd.Dir = opts.Dir
		cmd.Env = append(append([]string(nil), opts.Env...), srv.Env...)
		c.stderr = newTail(4 << 10)
		cmd.Stderr = c.stderr
		// Bound Wait when a grandchild keeps stderr open after the server
		// itself has exited.
		cmd.WaitDelay = terminateGrace
		transport = &mcp.CommandTransport{Command: cmd, TerminateDuration: terminateGrace}
	case srv.URL != "":
		hc := opts.HTTPClient
		if hc == nil {
			hc = http.DefaultClient
		}
		transport = &mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: hc, MaxRetries: -1, DisableStandaloneSSE: true}
	default:
		return nil, nil, errors.New("neither command nor url is set")
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "voidbox-agent", Version: "1"}, nil)
	session, err := client.Connect(ctx, transport, nil)
	if err != nil {
		return nil, nil, c.explain("starting", err)
	}
	c.session = session
	var list []*mcp.Tool
	for t, err := range session.Tools(ctx, nil) {
		if err != nil {
			_ = session.Close()
			return nil, nil, c.explain("listing tools", err)
		}
		list = append(list, t)
	}
	return c, list, nil
}

// explain wraps err with what was being done and the server's stderr tail.
func (c *conn) explain(doing string, err error) error {
	if c.stderr != nil {
		if t := c.stderr.String(); t != "" {
			return fmt.Errorf("%s: %w; stderr: %s", doing, err, t)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}
