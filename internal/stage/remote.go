package stage

import (
	"context"
	"errors"
	"fmt"

	"github.com/voidbox/voidbox/internal/skillfetch"
	"github.com/voidbox/voidbox/internal/spec"
)

// FetchRemoteSkills fetches, once per run and before any VM boots, the
// SKILL.md of every remote skill of stages (skillfetch: HTTPS, cached by
// content hash in cacheDir, the cached copy when offline), checks it like a
// file: skill and fills in its name, description, content and source.
func FetchRemoteSkills(ctx context.Context, stages map[string]Staged, order []string, cacheDir, baseURL string) error {
	var errs []error
	for _, name := range order {
		a := stages[name].Box.Agent
		if a == nil {
			continue
		}
		for i := range a.Skills {
			s := &a.Skills[i]
			if s.Kind != SkillRemote || s.Source != nil {
				continue
			}
			ref, err := skillfetch.ParseRef(s.Remote)
			if err == nil {
				var f *skillfetch.Skill
				f, err = skillfetch.Fetch(ctx, ref, skillfetch.Options{BaseURL: baseURL, CacheDir: cacheDir, Check: spec.SkillMarkdown})
				if err == nil {
					s.Name, s.Description, s.Content = f.Name, f.Description, f.Content
					s.Source = &SkillSource{Name: f.Name, URL: f.URL, SHA256: f.SHA256, Cached: f.Cached}
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("stage %q: %w", name, err))
			}
		}
		if err := errors.Join(a.problems(stages[name].Box.Policy)...); err != nil {
			errs = append(errs, fmt.Errorf("stage %q: %w", name, err)) // e.g. a fetched name clashes with a file: skill
		}
	}
	return errors.Join(errs...)
}
