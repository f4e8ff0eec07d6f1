package daemon

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/voidbox/voidbox/internal/apiserver"
	"github.com/voidbox/voidbox/internal/apiv1"
)

// FuzzCreateRun: any POST /v1/runs body and Idempotency-Key is either a
// submission or an *apiserver.Error with a 4xx status; never a panic.
func FuzzCreateRun(f *testing.F) {
	f.Add([]byte(`{"spec":"kind: pipeline\nname: p\npipeline:\n  boxes: [{name: a, exec: [true]}]\n","input":"x"}`), "k")
	f.Add([]byte(`{"spec":"{\"kind\":\"agent\",\"name\":\"a\",\"agent\":{\"prompt\":\"hi\"}}","spec_name":"a.json"}`), "")
	f.Add([]byte(`{"spec":"kind: sandbox\nname: s\n","input_base64":"AAE="}`), "")
	d := &Daemon{}
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		var req apiv1.CreateRun
		if err := json.Unmarshal(body, &req); err != nil {
			return // the strict decoder is apiserver's, fuzzed there
		}
		sub, err := d.parseSubmission(req, key)
		if err == nil {
			if sub.job == nil || sub.name == "" {
				t.Fatalf("accepted without a job or name: %+v", sub)
			}
			return
		}
		var e *apiserver.Error
		if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Code == "" {
			t.Fatalf("parseSubmission(%q, %q) = %v", body, key, err)
		}
	})
}

// FuzzSandboxPolicy: any policy JSON decodes and validates into a policy or
// a 400 naming a policy field; never a panic.
func FuzzSandboxPolicy(f *testing.F) {
	f.Add([]byte(`{"memory_mb":256,"allowed_commands":["sh"],"timeout":"30s","limits":{"processes":5}}`))
	f.Add([]byte(`{"allowed_commands":null,"env":{"A":"b"}}`))
	f.Add([]byte(`{"disk_mb":300,"memory_mb":256}`))
	f.Fuzz(func(t *testing.T, policy []byte) {
		if !json.Valid(policy) {
			return
		}
		_, err := decodePolicy(json.RawMessage(policy))
		if err == nil {
			return
		}
		var e *apiserver.Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != apiv1.CodeInvalidPolicy || e.Field == "" {
			t.Fatalf("decodePolicy(%s) = %v", policy, err)
		}
	})
}
