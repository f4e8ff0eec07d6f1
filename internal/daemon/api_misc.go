package daemon

import (
	"net/http"
	"runtime"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
)

func (d *Daemon) health(w http.ResponseWriter, r *http.Request) error {
	queued, running := d.counts()
	d.mu.Lock()
	h := apiv1.Health{Status: "ok", Store: d.cfg.StoreKind, VMsRunning: d.slots.InUse(), MaxVMs: d.cfg.MaxVMs,
		RunsQueued: queued, RunsRunning: running, MaxQueued: d.cfg.MaxQueued, Sandboxes: len(d.boxes)}
	if d.draining {
		h.Status = "draining"
	}
	d.mu.Unlock()
	apiserver.WriteJSON(w, http.StatusOK, h)
	return nil
}

func (d *Daemon) version(w http.ResponseWriter, r *http.Request) error {
	apiserver.WriteJSON(w, http.StatusOK, apiv1.VersionInfo{Version: d.cfg.Version, API: apiv1.Version, Go: runtime.Version()})
	return nil
}

func (d *Daemon) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(OpenAPI)
	return nil
}
