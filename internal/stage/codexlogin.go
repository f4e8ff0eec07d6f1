package stage

import (
	"errors"
	"os"
	"strings"

	"github.com/voidbox/voidbox/internal/codexauth"
	"github.com/voidbox/voidbox/internal/llm"
)

// codexLogin is prov with the host's Codex login (`codex login`) in place
// of an OpenAI API key the host does not have, for a codex stage that names
// no key variable of its own: the login's API key, or its ChatGPT login
// (provider chatgpt, the gateway then talking to ChatGPT's Codex backend,
// or to the spec's base_url). A host key wins, as it always did; without
// either, prov is unchanged and the missing key is reported as before.
func codexLogin(a *Agent, prov llm.Provider, open func() (*codexauth.Login, error)) (llm.Provider, error) {
	if a.runtime() != RuntimeCodex || prov.Kind != llm.KindOpenAI || a.LLM.APIKeyEnv != "" || !prov.APIKey.Empty() {
		return prov, nil
	}
	if v, _ := os.LookupEnv(llm.DefaultKeyEnv(llm.KindOpenAI)); strings.TrimSpace(v) != "" {
		return prov, nil
	}
	l, err := open()
	if errors.Is(err, codexauth.ErrNoLogin) {
		return prov, nil
	}
	if err != nil {
		return prov, err
	}
	if l.ChatGPT == nil {
		prov.APIKey = llm.Secret(l.APIKey)
		return prov, nil
	}
	prov.Kind, prov.Token = llm.KindChatGPT, l.ChatGPT
	return prov, nil
}
