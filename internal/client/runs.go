package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/voidbox/voidbox/internal/apiv1"
)

// CreateRun submits a run. A non-empty key is its Idempotency-Key: a retry
// with the same key returns the run the first call created.
func (c *Client) CreateRun(ctx context.Context, req apiv1.CreateRun, key string) (apiv1.Run, error) {
	hdr, body, err := jsonBody(req)
	if err != nil {
		return apiv1.Run{}, err
	}
	if key != "" {
		hdr.Set("Idempotency-Key", key)
	}
	var r apiv1.Run
	return r, c.do(ctx, "POST", "/v1/runs", hdr, body, &r)
}

// GetRun returns a run with its stages and report.
func (c *Client) GetRun(ctx context.Context, id string) (apiv1.Run, error) {
	var r apiv1.Run
	return r, c.do(ctx, "GET", "/v1/runs/"+url.PathEscape(id), nil, nil, &r)
}

// ListOptions filter ListRuns.
type ListOptions struct {
	Status []string
	Name   string
	Limit  int
	Cursor string
}

// ListRuns returns a page of runs, newest first.
func (c *Client) ListRuns(ctx context.Context, o ListOptions) (apiv1.RunList, error) {
	q := url.Values{}
	if len(o.Status) > 0 {
		q.Set("status", strings.Join(o.Status, ","))
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	path := "/v1/runs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var l apiv1.RunList
	return l, c.do(ctx, "GET", path, nil, nil, &l)
}

// CancelRun cancels a run and returns it once its VMs are gone.
func (c *Client) CancelRun(ctx context.Context, id string) (apiv1.Run, error) {
	var r apiv1.Run
	return r, c.do(ctx, "POST", "/v1/runs/"+url.PathEscape(id)+"/cancel", nil, nil, &r)
}

// DeleteRun deletes a finished run.
func (c *Client) DeleteRun(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/runs/"+url.PathEscape(id), nil, nil, nil)
}

// Outputs lists a run's stored stage outputs.
func (c *Client) Outputs(ctx context.Context, id string) ([]apiv1.Output, error) {
	var l apiv1.OutputList
	return l.Outputs, c.do(ctx, "GET", "/v1/runs/"+url.PathEscape(id)+"/outputs", nil, nil, &l)
}

// Output returns one stage's output.
func (c *Client) Output(ctx context.Context, id, stage string) ([]byte, error) {
	resp, err := c.send(ctx, "GET", "/v1/runs/"+url.PathEscape(id)+"/outputs/"+url.PathEscape(stage), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// EventPage returns the events after `after` (at most limit; 0: the
// daemon's default) in the JSON form, waiting up to wait for one.
func (c *Client) EventPage(ctx context.Context, id string, after uint64, limit int, wait string) (apiv1.EventPage, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait != "" {
		q.Set("wait", wait)
	}
	var p apiv1.EventPage
	return p, c.do(ctx, "GET", "/v1/runs/"+url.PathEscape(id)+"/events?"+q.Encode(),
		http.Header{"Accept": {"application/json"}}, nil, &p)
}
