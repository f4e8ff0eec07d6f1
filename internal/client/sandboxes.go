package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/voidbox/voidbox/internal/apiv1"
)

// CreateSandbox boots an interactive sandbox.
func (c *Client) CreateSandbox(ctx context.Context, req apiv1.CreateSandbox) (apiv1.Sandbox, error) {
	hdr, body, err := jsonBody(req)
	if err != nil {
		return apiv1.Sandbox{}, err
	}
	var s apiv1.Sandbox
	return s, c.do(ctx, "POST", "/v1/sandboxes", hdr, body, &s)
}

// ListSandboxes lists the open sandboxes.
func (c *Client) ListSandboxes(ctx context.Context) ([]apiv1.Sandbox, error) {
	var l apiv1.SandboxList
	return l.Sandboxes, c.do(ctx, "GET", "/v1/sandboxes", nil, nil, &l)
}

// CloseSandbox closes a sandbox; it returns once its VM is gone.
func (c *Client) CloseSandbox(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/sandboxes/"+url.PathEscape(id), nil, nil, nil)
}

// Exec runs a command in a sandbox, copying its output to stdout and
// stderr (nil: dropped) as it comes.
func (c *Client) Exec(ctx context.Context, id string, req apiv1.Exec, stdout, stderr io.Writer) (apiv1.ExecResult, error) {
	hdr, body, err := jsonBody(req)
	if err != nil {
		return apiv1.ExecResult{}, err
	}
	resp, err := c.send(ctx, "POST", "/v1/sandboxes/"+url.PathEscape(id)+"/exec", hdr, body)
	if err != nil {
		return apiv1.ExecResult{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var f apiv1.ExecFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return apiv1.ExecResult{}, fmt.Errorf("exec: bad frame: %w", err)
		}
		switch {
		case f.Exit != nil:
			return *f.Exit, nil
		case f.Error != nil:
			return apiv1.ExecResult{}, &Error{Status: http.StatusOK, Code: f.Error.Code, Message: f.Error.Message}
		}
		if f.Stdout != nil && stdout != nil {
			stdout.Write(f.Stdout)
		}
		if f.Stderr != nil && stderr != nil {
			stderr.Write(f.Stderr)
		}
	}
	if err := sc.Err(); err != nil {
		return apiv1.ExecResult{}, fmt.Errorf("exec: %w", err)
	}
	return apiv1.ExecResult{}, errors.New("exec: the stream ended without the command's result")
}

// WriteFile writes data to path in the sandbox with mode (0: 0644).
func (c *Client) WriteFile(ctx context.Context, id, path string, data []byte, mode uint32) error {
	q := url.Values{"path": {path}}
	if mode != 0 {
		q.Set("mode", "0"+strconv.FormatUint(uint64(mode), 8))
	}
	return c.do(ctx, "PUT", "/v1/sandboxes/"+url.PathEscape(id)+"/files?"+q.Encode(),
		http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(data), nil)
}

// ReadFile reads path from the sandbox.
func (c *Client) ReadFile(ctx context.Context, id, path string) ([]byte, error) {
	resp, err := c.send(ctx, "GET", "/v1/sandboxes/"+url.PathEscape(id)+"/files?"+url.Values{"path": {path}}.Encode(), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
