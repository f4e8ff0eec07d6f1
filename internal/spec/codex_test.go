package spec

import (
	"testing"
)

// TestCodexAccepted: the seed's provider: codex and agent:codex forms both
// select runtime codex on the OpenAI provider.
func TestCodexAccepted(t *testing.T) {
	for name, src := range map[string]string{
		"provider codex": "kind: agent\nname: a\nllm: {provider: codex, model: gpt-5-codex}\nagent: {prompt: hi}\n",
		"agent skill":    "kind: agent\nname: a\nagent: {prompt: hi, skills: [\"agent:codex\"]}\n",
		"runtime":        "kind: agent\nname: a\nllm: {provider: openai}\nagent: {prompt: hi, runtime: codex}\n",
		"both":           "kind: agent\nname: a\nllm: {provider: codex}\nagent: {prompt: hi, skills: [\"agent:codex\"]}\n",
	} {
		s, err := Parse("t.yaml", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		b := s.Agent
		if b.Runtime != RuntimeCodex || (b.LLM.Provider != ProviderCodex && b.LLM.Provider != ProviderOpenAI) {
			t.Errorf("%s: runtime %q provider %q", name, b.Runtime, b.LLM.Provider)
		}
	}
}

// TestCodexMismatches: a codex box with another provider or runtime, or
// with what Codex cannot honour, is refused where it is written.
func TestCodexMismatches(t *testing.T) {
	const head = "kind: pipeline\nname: p\npipeline:\n  boxes:\n"
	wantErrors(t, "t.yaml", head+"  - {name: a, prompt: hi, runtime: codex, llm: {provider: claude}}\n",
		`t.yaml:5:5: pipeline.boxes[0]: runtime codex speaks OpenAI's Responses API: it needs provider openai (or codex), not claude`)
	wantErrors(t, "t.yaml", head+"  - {name: a, prompt: hi, runtime: claude-code, llm: {provider: codex}}\n",
		`t.yaml:5:5: pipeline.boxes[0]: provider codex runs the Codex CLI: it cannot be used with runtime: claude-code (use runtime codex, or provider openai)`)
	wantErrors(t, "t.yaml", head+"  - {name: a, prompt: hi, skills: [\"agent:codex\"], sandbox: {allowed_commands: [ls]}}\n",
		`t.yaml:5:5: pipeline.boxes[0]: runtime codex cannot enforce sandbox.allowed_commands: remove the allowlist or use runtime voidbox`)
	wantErrors(t, "t.yaml", head+"  - {name: a, prompt: hi, skills: [\"agent:codex\", \"mcp:srv\"]}\n",
		`t.yaml:5:51: pipeline.boxes[0].skills[1]: runtime codex does not take mcp skills yet`)
}
