package daemon

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
	"github.com/voidbox/voidbox/internal/store"
)

func (d *Daemon) createRun(w http.ResponseWriter, r *http.Request) error {
	var req apiv1.CreateRun
	if err := apiserver.DecodeJSON(r, &req); err != nil {
		return err
	}
	sub, err := d.parseSubmission(req, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	run, created, err := d.submit(r.Context(), sub)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/v1/runs/"+run.ID)
	apiserver.WriteJSON(w, status, runJSON(run, nil))
	return nil
}

func (d *Daemon) listRuns(w http.ResponseWriter, r *http.Request) error {
	page, err := apiserver.ParsePage(r.URL.RawQuery, store.DefaultPageSize, store.MaxPageSize)
	if err != nil {
		return err
	}
	q, _ := url.ParseQuery(r.URL.RawQuery) // ParsePage checked it parses
	f := store.RunFilter{Limit: page.Limit, Cursor: page.Cursor}
	for k, vs := range q {
		switch {
		case k == "limit" || k == "cursor":
		case len(vs) != 1:
			return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, k, "given %d times", len(vs))
		case k == "status":
			for _, s := range strings.Split(vs[0], ",") {
				st := store.RunStatus(s)
				if !st.Valid() {
					return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "status",
						"%q is not queued, running, succeeded, failed or cancelled", s)
				}
				if !slices.Contains(f.Status, st) {
					f.Status = append(f.Status, st)
				}
			}
		case k == "name":
			f.Name = vs[0]
		default:
			return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, k, "unknown parameter (status, name, limit, cursor)")
		}
	}
	if page.Cursor != "" && !store.ValidID(page.Cursor) {
		return apiserver.Errorf(http.StatusBadRequest, apiserver.CodeInvalid, "cursor", "not a cursor this server gave")
	}
	p, err := d.st.ListRuns(r.Context(), f)
	if err != nil {
		return err
	}
	out := apiv1.RunList{Runs: make([]apiv1.Run, 0, len(p.Runs)), Next: p.Next}
	for _, run := range p.Runs {
		out.Runs = append(out.Runs, runJSON(run, nil))
	}
	apiserver.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) getRun(w http.ResponseWriter, r *http.Request) error {
	out, err := d.runWithStages(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	apiserver.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) runWithStages(r *http.Request, id string) (apiv1.Run, error) {
	run, err := d.st.GetRun(r.Context(), id)
	if err != nil {
		return apiv1.Run{}, err
	}
	stages, err := d.st.Stages(r.Context(), id)
	if err != nil {
		return apiv1.Run{}, err
	}
	return runJSON(run, stages), nil
}

func (d *Daemon) deleteRun(w http.ResponseWriter, r *http.Request) error {
	if err := d.st.DeleteRun(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cancelRun answers once the run's VMs are gone and its status stored.
func (d *Daemon) cancelRun(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := d.st.GetRun(r.Context(), id); err != nil {
		return err
	}
	if err := d.cancel(r.Context(), id); err != nil {
		return err
	}
	out, err := d.runWithStages(r, id)
	if err != nil {
		return err
	}
	apiserver.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) listOutputs(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := d.st.GetRun(r.Context(), id); err != nil {
		return err
	}
	infos, err := d.st.ListOutputs(r.Context(), id)
	if err != nil {
		return err
	}
	out := apiv1.OutputList{Outputs: make([]apiv1.Output, 0, len(infos))}
	for _, o := range infos {
		out.Outputs = append(out.Outputs, apiv1.Output{Stage: o.Stage, Size: o.Size})
	}
	apiserver.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (d *Daemon) getOutput(w http.ResponseWriter, r *http.Request) error {
	data, err := d.st.Output(r.Context(), r.PathValue("id"), r.PathValue("stage"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(data)
	return nil
}

// runJSON is a stored run as the API shows it.
func runJSON(r store.Run, stages []store.Stage) apiv1.Run {
	out := apiv1.Run{ID: r.ID, Name: r.Name, Kind: r.Kind, Status: string(r.Status), IdempotencyKey: r.IdempotencyKey,
		CreatedAt: r.Created, StartedAt: r.Started, FinishedAt: r.Ended, Error: r.Error, LastEventID: r.LastSeq,
		Report: r.Report}
	for _, s := range stages {
		st := apiv1.Stage{Name: s.Name, Status: string(s.Status), Attempts: s.Attempts, StartedAt: s.Started,
			FinishedAt: s.Ended, Error: s.Error}
		if s.ExitCode != noExitCode && s.Status.Terminal() {
			st.ExitCode = new(s.ExitCode)
		}
		out.Stages = append(out.Stages, st)
	}
	return out
}
