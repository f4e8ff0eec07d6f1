package llm

import (
	"net/http"
	"testing"
)

func TestDropRequestHeader(t *testing.T) {
	conn := map[string]bool{"X-Hop": true}
	for name, drop := range map[string]bool{
		"Authorization": true, "x-api-key": true, "Cookie": true, "Proxy-Authorization": true, "Proxy-Foo": true,
		"X-Auth-Token": true, "X-Secret": true, "Api-Key": true, "X-Session-Id": true, "Connection": true,
		"Transfer-Encoding": true, "Te": true, "Upgrade": true, "Host": true, "X-Forwarded-For": true,
		"Forwarded": true, "X-Hop": true, "Content-Length": true, "Accept-Encoding": true, "OpenAI-Organization": true,
		"Anthropic-Version": false, "Anthropic-Beta": false, "User-Agent": false, "Content-Type": false,
		"X-Stainless-Lang": false, "Accept": false, "Idempotency-Key": true,
	} {
		if got := dropRequestHeader(name, conn); got != drop {
			t.Errorf("%s: drop=%v, want %v", name, got, drop)
		}
	}
}

func TestOutboundHeaderCredential(t *testing.T) {
	in := http.Header{"X-Api-Key": {"guest"}, "Authorization": {"Bearer guest"}}
	for kind, want := range map[Kind][2]string{
		KindAnthropic: {"X-Api-Key", "host-key"},
		KindCustom:    {"X-Api-Key", "host-key"},
		KindOpenAI:    {"Authorization", "Bearer host-key"},
		KindOllama:    {"Authorization", "Bearer host-key"},
	} {
		p := resolved{Provider: Provider{Kind: kind, APIKey: "host-key"}}
		out := outboundHeader(in, p, endpoint{format: kind.wire()}, true, "", "")
		if got := out.Values(want[0]); len(got) != 1 || got[0] != want[1] {
			t.Errorf("%s: %s = %q", kind, want[0], got)
		}
		other := "Authorization"
		if want[0] == other {
			other = "X-Api-Key"
		}
		if v := out.Get(other); v != "" {
			t.Errorf("%s: guest %s kept: %q", kind, other, v)
		}
	}
	// No key configured: nothing added, guest credentials still dropped.
	out := outboundHeader(in, resolved{Provider: Provider{Kind: KindOllama}}, endpoint{format: formatOllama}, false, "", "")
	if out.Get("Authorization") != "" || out.Get("X-Api-Key") != "" || out.Get("Content-Type") != "" {
		t.Errorf("keyless ollama header %v", out)
	}
}
