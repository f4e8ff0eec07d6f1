package daemon

import (
	_ "embed"
	"errors"
	"net/http"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/store"
)

// OpenAPI is the API's description (OpenAPI 3.1), served at
// /v1/openapi.yaml; TestOpenAPIMatchesRoutes keeps it and Routes in step.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Route is one operation of the API.
type Route struct {
	Method, Path string // Path in OpenAPI form: /v1/runs/{id}
	handler      func(d *Daemon, w http.ResponseWriter, r *http.Request) error
}

// Routes lists every operation the daemon serves.
var Routes = []Route{
	{"GET", "/v1/health", (*Daemon).health},
	{"GET", "/v1/version", (*Daemon).version},
	{"GET", "/v1/openapi.yaml", (*Daemon).openapi},
	{"POST", "/v1/runs", (*Daemon).createRun},
	{"GET", "/v1/runs", (*Daemon).listRuns},
	{"GET", "/v1/runs/{id}", (*Daemon).getRun},
	{"DELETE", "/v1/runs/{id}", (*Daemon).deleteRun},
	{"POST", "/v1/runs/{id}/cancel", (*Daemon).cancelRun},
	{"GET", "/v1/runs/{id}/events", (*Daemon).events},
	{"GET", "/v1/runs/{id}/outputs", (*Daemon).listOutputs},
	{"GET", "/v1/runs/{id}/outputs/{stage}", (*Daemon).getOutput},
	{"POST", "/v1/sandboxes", (*Daemon).createSandbox},
	{"GET", "/v1/sandboxes", (*Daemon).listSandboxes},
	{"GET", "/v1/sandboxes/{id}", (*Daemon).getSandbox},
	{"DELETE", "/v1/sandboxes/{id}", (*Daemon).deleteSandbox},
	{"POST", "/v1/sandboxes/{id}/exec", (*Daemon).execSandbox},
	{"PUT", "/v1/sandboxes/{id}/files", (*Daemon).writeFile},
	{"GET", "/v1/sandboxes/{id}/files", (*Daemon).readFile},
}

func (d *Daemon) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range Routes {
		h := rt.handler
		mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) {
			if err := h(d, w, r); err != nil {
				d.fail(w, r, err)
			}
		})
	}
	return mux
}

// fail writes err as a JSON error: API errors as they are, store errors by
// their category, anything else as a logged 500.
func (d *Daemon) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiserver.Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrNotFound):
		err = apiserver.Errorf(http.StatusNotFound, apiserver.CodeNotFound, "", "%v", err)
	case errors.Is(err, store.ErrConflict):
		err = apiserver.Errorf(http.StatusConflict, apiv1.CodeConflict, "", "%v", err)
	case errors.Is(err, store.ErrInvalid):
		err = apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "", "%v", err)
	case errors.Is(err, store.ErrTooLarge):
		err = apiserver.Errorf(http.StatusRequestEntityTooLarge, apiserver.CodeTooLarge, "", "%v", err)
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		return // the client went away
	default:
		d.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if ae, ok := err.(*apiserver.Error); ok && ae.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "5")
	}
	apiserver.WriteError(w, err)
}
