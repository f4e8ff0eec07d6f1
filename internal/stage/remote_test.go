package stage

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/voidbox/voidbox/internal/event"
	"github.com/voidbox/voidbox/internal/llm/llmtest"
	"github.com/voidbox/voidbox/internal/pipeline"
	"github.com/voidbox/voidbox/internal/sandbox/sandboxtest"
	"github.com/voidbox/voidbox/internal/setup"
)

// TestRemoteSkillInstalled: a remote: skill is fetched on the host before
// the run, installed in the guest like a file: skill, and its URL and hash
// are in the report and a skill.fetched event; a reference that 404s fails
// the run before any VM boots.
func TestRemoteSkillInstalled(t *testing.T) {
	const md = "---\nname: hn-api\ndescription: HN via curl\n---\ncurl https://hacker-news.firebaseio.com/v0/topstories.json\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/acme/skills/v1/skills/hn-api/SKILL.md" {
			io.WriteString(w, md)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	t.Setenv("VOIDBOX_SKILLS_BASE_URL", srv.URL)
	model := llmtest.NewAnthropic(t)
	t.Setenv("VOIDBOX_STAGE_TEST_KEY", "k")
	g := sandboxtest.New()
	g.Handle(setup.AgentGuestPath, func(ctx context.Context, p *sandboxtest.Process) int {
		w := event.NewWriter(p.Stdout)
		w.Send(event.AgentFinished{FinalText: "ok"})
		return 0
	})
	box := &Box{Name: "hn", Agent: &Agent{Prompt: "top stories", LLM: LLM{Provider: "claude", BaseURL: model.URL, APIKeyEnv: "VOIDBOX_STAGE_TEST_KEY"},
		Skills: []Skill{{Kind: SkillRemote, Name: "acme/skills/hn-api@v1", Remote: "acme/skills/hn-api@v1"}}}}
	stages := map[string]Staged{"hn": {Box: box}}
	if err := FetchRemoteSkills(context.Background(), stages, []string{"hn"}, t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	b := pipeline.NewPipeline("t")
	b.Pipe(box.Node())
	gr, _ := b.Build()
	rec := &events{}
	rep, err := Run(context.Background(), gr, stages, Host{}, Options{Events: rec, Boot: BootFunc(g.Boot)})
	if err != nil {
		t.Fatal(err)
	}
	g.Wait()
	if f := g.File("/workspace/.voidbox/skills/hn-api/SKILL.md"); f == nil || string(f.Data) != md {
		t.Errorf("skill not installed: %v", g.Files())
	}
	a := rep.Stages[0].Detail.(*Detail).Agent
	if len(a.RemoteSkills) != 1 || a.RemoteSkills[0].Name != "hn-api" || len(a.RemoteSkills[0].SHA256) != 64 ||
		!strings.HasSuffix(a.RemoteSkills[0].URL, "/acme/skills/v1/skills/hn-api/SKILL.md") {
		t.Errorf("report %+v", a.RemoteSkills)
	}
	found := false
	for _, typ := range rec.types() {
		found = found || typ == "skill.fetched"
	}
	if !found {
		t.Errorf("no skill.fetched event: %v", rec.types())
	}
	missing := &Box{Name: "x", Agent: &Agent{Prompt: "p", Skills: []Skill{{Kind: SkillRemote, Name: "acme/none", Remote: "acme/none"}}}}
	err = FetchRemoteSkills(context.Background(), map[string]Staged{"x": {Box: missing}}, []string{"x"}, t.TempDir(), "")
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), `stage "x"`) {
		t.Errorf("404: %v", err)
	}
}
