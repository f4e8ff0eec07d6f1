package codex

import (
	"strings"
	"testing"
)

func TestCommandAndConfig(t *testing.T) {
	c := Config{Prompt: "-rf what", Model: `gpt-5"x`, BaseURL: "http://127.0.0.1:4000"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	argv, env := Command(c)
	want := "/opt/voidbox/codex/bin/codex exec --json --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox --cd /workspace --model gpt-5\"x -- -rf what"
	if got := strings.Join(argv, " "); got != want {
		t.Errorf("argv = %s", got)
	}
	if env[PlaceholderEnv] != PlaceholderKey || env["CODEX_HOME"] != "/home/sandbox/.codex" || len(c.Stdin()) != 0 {
		t.Errorf("env %v", env)
	}
	toml := string(c.ConfigTOML())
	for _, s := range []string{`model = "gpt-5\"x"`, `base_url = "http://127.0.0.1:4000/v1"`, `env_key = "VOIDBOX_LLM_KEY"`, `wire_api = "responses"`, "[analytics]\nenabled = false"} {
		if !strings.Contains(toml, s) {
			t.Errorf("config lacks %q:\n%s", s, toml)
		}
	}
	if c.ConfigPath() != "/home/sandbox/.codex/config.toml" {
		t.Errorf("config path %s", c.ConfigPath())
	}
	long := Config{Prompt: strings.Repeat("p", MaxArgPrompt+1), BaseURL: "http://127.0.0.1:1"}
	if argv, _ := Command(long); argv[len(argv)-1] != "-" || len(long.Stdin()) != MaxArgPrompt+1 {
		t.Errorf("long prompt: argv ends %q", argv[len(argv)-1])
	}
	for _, bad := range []Config{{BaseURL: "http://h"}, {Prompt: "x"}, {Prompt: "x", BaseURL: "http://h", Model: "a\nb"}, {Prompt: "x", BaseURL: "http://h", Home: "rel"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
