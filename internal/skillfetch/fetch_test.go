package skillfetch_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/voidbox/voidbox/internal/skillfetch"

	"github.com/voidbox/voidbox/internal/spec"
)

const skillMD = "---\nname: hn-api\ndescription: The Hacker News API with curl and jq\n---\nGET https://hacker-news.firebaseio.com/v0/topstories.json\n"

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{
		"acme/skills/hn-api":          "https://b/acme/skills/HEAD/skills/hn-api/SKILL.md",
		"acme/skills/hn-api@v1.2":     "https://b/acme/skills/v1.2/skills/hn-api/SKILL.md",
		"acme/hn-skill":               "https://b/acme/hn-skill/HEAD/SKILL.md",
		"acme/hn-skill@3f2c1a9b0d4e5": "https://b/acme/hn-skill/3f2c1a9b0d4e5/SKILL.md",
	} {
		r, err := skillfetch.ParseRef(in)
		if err != nil || r.URL("https://b/") != want || r.String() != in {
			t.Errorf("%s: %+v %v -> %s", in, r, err, r.URL("https://b/"))
		}
	}
	for _, bad := range []string{"acme", "a/b/c/d", "acme/../x", "acme/x@", "acme/x@../main", "acme/x y", "/x/y", "acme/.."} {
		if _, err := skillfetch.ParseRef(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFetch: over TLS from a local server standing in for GitHub: fetched,
// checked and cached by content hash; offline later, the cached copy is used
// and says so; a 404 or a bad SKILL.md is an error, never a made-up skill.
func TestFetch(t *testing.T) {
	var hits atomic.Int32
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case !up.Load():
			http.Error(w, "down", http.StatusBadGateway)
		case r.URL.Path == "/acme/skills/HEAD/skills/hn-api/SKILL.md":
			w.Write([]byte(skillMD))
		case r.URL.Path == "/acme/skills/HEAD/skills/bad/SKILL.md":
			w.Write([]byte("no front matter"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	o := skillfetch.Options{BaseURL: srv.URL, CacheDir: cache, Client: srv.Client(), Check: spec.SkillMarkdown}
	ref, _ := skillfetch.ParseRef("acme/skills/hn-api")
	s, err := skillfetch.Fetch(context.Background(), ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "hn-api" || s.Content != skillMD || s.Cached || len(s.SHA256) != 64 || !strings.HasSuffix(s.URL, "/skills/hn-api/SKILL.md") {
		t.Errorf("fetched %+v", s)
	}
	up.Store(false)
	c, err := skillfetch.Fetch(context.Background(), ref, o)
	if err != nil || !c.Cached || c.SHA256 != s.SHA256 || c.Content != skillMD {
		t.Errorf("offline with a cached copy: %+v, %v", c, err)
	}
	other, _ := skillfetch.ParseRef("acme/skills/never-fetched")
	if _, err := skillfetch.Fetch(context.Background(), other, o); err == nil || !strings.Contains(err.Error(), "no cached copy") {
		t.Errorf("offline without a cached copy: %v", err)
	}
	up.Store(true)
	if _, err := skillfetch.Fetch(context.Background(), other, o); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
	bad, _ := skillfetch.ParseRef("acme/skills/bad")
	if _, err := skillfetch.Fetch(context.Background(), bad, o); err == nil || !strings.Contains(err.Error(), "front matter") {
		t.Errorf("bad SKILL.md: %v", err)
	}
	if _, err := skillfetch.Fetch(context.Background(), ref, skillfetch.Options{BaseURL: "http://example.com", CacheDir: cache, Check: spec.SkillMarkdown}); err == nil {
		t.Error("plain http to a non-loopback base accepted")
	}
	// Default client: the test server's CA is not trusted, so it fails
	// closed (and falls back to the cache, which says so).
	c, err = skillfetch.Fetch(context.Background(), ref, skillfetch.Options{BaseURL: srv.URL, CacheDir: cache, Check: spec.SkillMarkdown})
	if err != nil || !c.Cached {
		t.Errorf("untrusted TLS: %+v, %v", c, err)
	}
}
