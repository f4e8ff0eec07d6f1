package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/voidbox/voidbox"
	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
)

func (d *Daemon) createSandbox(w http.ResponseWriter, r *http.Request) error {
	var req apiv1.CreateSandbox
	if err := apiserver.DecodeJSON(r, &req); err != nil {
		return err
	}
	lb, err := d.openSandbox(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/sandboxes/"+lb.rec.ID)
	apiserver.WriteJSON(w, http.StatusCreated, lb.json())
	return nil
}

func (d *Daemon) listSandboxes(w http.ResponseWriter, r *http.Request) error {
	d.mu.Lock()
	out := apiv1.SandboxList{Sandboxes: []apiv1.Sandbox{}}
	for _, lb := range d.boxes {
		out.Sandboxes = append(out.Sandboxes, lb.json())
	}
	d.mu.Unlock()
	sort.Slice(out.Sandboxes, func(i, j int) bool { return out.Sandboxes[i].ID < out.Sandboxes[j].ID })
	apiserver.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) getSandbox(w http.ResponseWriter, r *http.Request) error {
	lb, done, err := d.use(r.PathValue("id"))
	if err != nil {
		return err
	}
	defer done()
	apiserver.WriteJSON(w, http.StatusOK, lb.json())
	return nil
}

// deleteSandbox answers once the VM is gone.
func (d *Daemon) deleteSandbox(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	d.mu.Lock()
	lb, ok := d.boxes[id]
	d.mu.Unlock()
	if !ok {
		return apiserver.Errorf(http.StatusNotFound, apiserver.CodeNotFound, "", "sandbox %q: not found", id)
	}
	d.closeBox(lb)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// execSandbox runs a command and streams its output as NDJSON frames, then
// its result (apiv1.ExecFrame). The command is killed if the client goes
// away.
func (d *Daemon) execSandbox(w http.ResponseWriter, r *http.Request) error {
	var req apiv1.Exec
	if err := apiserver.DecodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Args) == 0 || req.Args[0] == "" {
		return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "args", "missing: give the program and its arguments")
	}
	var timeout time.Duration
	if req.Timeout != "" {
		v, err := time.ParseDuration(req.Timeout)
		if err != nil {
			return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "timeout", "%q is not a duration", req.Timeout)
		}
		timeout = v
	}
	lb, done, err := d.use(r.PathValue("id"))
	if err != nil {
		return err
	}
	defer done()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	fw := &frameWriter{w: w, rc: http.NewResponseController(w)}
	cmd := voidbox.Cmd{Args: req.Args, Env: req.Env, Dir: req.Dir, Timeout: timeout,
		Stdout: fw.stream(func(b []byte) apiv1.ExecFrame { return apiv1.ExecFrame{Stdout: b} }),
		Stderr: fw.stream(func(b []byte) apiv1.ExecFrame { return apiv1.ExecFrame{Stderr: b} })}
	if req.Stdin != nil {
		cmd.Stdin = bytes.NewReader(req.Stdin)
	}
	res, err := lb.sb.Exec(r.Context(), cmd)
	if err != nil {
		fw.send(apiv1.ExecFrame{Error: &apiv1.ErrorDetail{Code: apiserver.CodeInternal, Message: err.Error()}})
		return nil
	}
	fw.send(apiv1.ExecFrame{Exit: &apiv1.ExecResult{ExitCode: res.ExitCode, TimedOut: res.TimedOut, OOMKilled: res.OOMKilled,
		Reason: res.Reason(), Error: res.Error, DurationMS: float64(res.Duration.Microseconds()) / 1000,
		StdoutDropped: res.StdoutDropped, StderrDropped: res.StderrDropped}})
	return nil
}

// frameWriter writes NDJSON frames from the exec's two output streams.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	rc  *http.ResponseController
	err error // guarded by mu: the first write error (the client left)
}

func (f *frameWriter) send(fr apiv1.ExecFrame) error {
	b, err := json.Marshal(fr)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	// A client that stops reading is dropped (the command then sees its
	// output blocked, then the request's end) instead of holding the sandbox.
	if err := f.rc.SetWriteDeadline(time.Now().Add(apiserver.DefaultSSEWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		f.err = err
		return err
	}
	if _, f.err = f.w.Write(append(b, '\n')); f.err == nil {
		f.err = f.rc.Flush()
	}
	return f.err
}

type frameStream struct {
	f    *frameWriter
	make func([]byte) apiv1.ExecFrame
}

func (f *frameWriter) stream(mk func([]byte) apiv1.ExecFrame) io.Writer { return &frameStream{f, mk} }

func (s *frameStream) Write(p []byte) (int, error) {
	if err := s.f.send(s.make(bytes.Clone(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// filePath reads and checks the ?path= of a file request.
func filePath(r *http.Request) (string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["path"]) != 1 {
		return "", apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "path", "give one ?path= (an absolute guest path)")
	}
	p := q["path"][0]
	if !path.IsAbs(p) || path.Clean(p) != p {
		return "", apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "path", "%q is not a clean absolute path", p)
	}
	return p, nil
}

// writeFile stores the request body at ?path= (mode 0644, or ?mode=0755).
func (d *Daemon) writeFile(w http.ResponseWriter, r *http.Request) error {
	p, err := filePath(r)
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if m := r.URL.Query().Get("mode"); m != "" {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil || v > 0o777 {
			return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "mode", "%q is not an octal mode such as 0644", m)
		}
		mode = fs.FileMode(v)
	}
	lb, done, err := d.use(r.PathValue("id"))
	if err != nil {
		return err
	}
	defer done()
	body, err := apiserver.ReadBody(r)
	if err != nil {
		return err
	}
	if err := lb.sb.WriteFile(r.Context(), p, body, mode); err != nil {
		return sandboxError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (d *Daemon) readFile(w http.ResponseWriter, r *http.Request) error {
	p, err := filePath(r)
	if err != nil {
		return err
	}
	lb, done, err := d.use(r.PathValue("id"))
	if err != nil {
		return err
	}
	defer done()
	data, err := lb.sb.ReadFile(r.Context(), p)
	if err != nil {
		return sandboxError(err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
	return nil
}

// sandboxError maps a guest file error to its status.
func sandboxError(err error) error {
	switch {
	case errors.Is(err, voidbox.ErrNotFound):
		return apiserver.Errorf(http.StatusNotFound, apiserver.CodeNotFound, "path", "%v", err)
	case errors.Is(err, voidbox.ErrTooLarge):
		return apiserver.Errorf(http.StatusRequestEntityTooLarge, apiserver.CodeTooLarge, "path", "%v", err)
	case errors.Is(err, voidbox.ErrInvalid):
		return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "path", "%v", err)
	}
	return apiserver.Errorf(http.StatusBadGateway, apiserver.CodeInternal, "", "%v", err)
}
