package claudecode

import (
	"encoding/json"
	"path"
)

// HomeConfigPath is where claude-code keeps its user state, under the
// sandbox user's home.
func HomeConfigPath(home string) string {
	if home == "" {
		home = GuestHome
	}
	return path.Join(home, ".claude.json")
}

// HomeConfig is the ~/.claude.json of an interactive session in workdir,
// using apiKey (the placeholder): it answers the questions a first start
// asks before the prompt appears, each of which would otherwise stop the
// session (checked against the real binary, 2.1.332):
//   - onboarding, which first checks that api.anthropic.com answers (it
//     cannot: the guest has no network, the gateway is its only way out);
//   - whether to use the ANTHROPIC_API_KEY found in the environment,
//     remembered by the key's last 20 characters;
//   - whether the working directory is trusted (the VM is the boundary);
//   - whether to accept bypass-permissions mode (--dangerously-skip-permissions:
//     the VM, not Claude Code's prompts, is what confines it).
func HomeConfig(workdir, apiKey string) ([]byte, error) {
	if apiKey == "" {
		apiKey = PlaceholderAPIKey
	}
	suffix := apiKey[max(0, len(apiKey)-20):]
	return json.MarshalIndent(map[string]any{
		"hasCompletedOnboarding":        true,
		"bypassPermissionsModeAccepted": true,
		"customApiKeyResponses":         map[string]any{"approved": []string{suffix}, "rejected": []string{}},
		"projects": map[string]any{
			workdir: map[string]any{"hasTrustDialogAccepted": true, "hasCompletedProjectOnboarding": true},
		},
	}, "", "  ")
}
