package spec

// The objects of the format. Each is one $defs entry of the JSON Schema
// (schema/voidbox.schema.json); schema_test.go checks that both list the same
// fields, and that every refused field is refused by the schema too.

// Reasons for fields the format recognises but refuses today.
const (
	notYetMounts    = "host mounts are not available yet"
	notYetSnapshot  = "snapshots are not available yet"
	notYetIO        = "mount-based outputs and inputs are not available yet: a box's output_file is passed to the next stage"
	topLevelOnly    = "can only be set in the top-level sandbox"
	notYetObserve   = "telemetry export is not available yet"
	notYetMessaging = "agent messaging is not available yet"
	noCredProxy     = "not needed: the voidbox LLM gateway always keeps provider keys out of the guest, so there is nothing to proxy"
	notYetImages    = "OCI images are not available yet: the guest boots voidbox's own image (kernel and initramfs set it)"
)

var (
	specObject = object{
		name:       "Spec",
		fields:     []string{"api_version", "kind", "name", "sandbox", "llm", "agent", "pipeline", "workflow"},
		rejected:   map[string]string{"observe": notYetObserve},
		extensions: true,
	}
	sandboxObject = object{
		name: "Sandbox",
		fields: []string{"mode", "kernel", "initramfs", "memory_mb", "vcpus", "network", "env",
			"allowed_commands", "timeout", "disk_mb"},
		rejected: map[string]string{"mounts": notYetMounts, "snapshot": notYetSnapshot,
			"image": notYetImages, "guest_image": notYetImages},
	}
	sandboxOverrideObject = object{
		name:   "SandboxOverride",
		fields: []string{"memory_mb", "vcpus", "network", "env", "allowed_commands", "disk_mb"},
		rejected: map[string]string{
			"mounts": notYetMounts, "snapshot": notYetSnapshot,
			"mode": topLevelOnly, "kernel": topLevelOnly, "initramfs": topLevelOnly,
			"image": notYetImages, "guest_image": notYetImages, "timeout": topLevelOnly,
		},
	}
	llmObject = object{
		name:     "LLM",
		fields:   []string{"provider", "model", "base_url", "api_key_env", "limits"},
		rejected: map[string]string{"credential_proxy": noCredProxy},
	}
	llmLimitsObject = object{
		name:   "LLMLimits",
		fields: []string{"max_requests", "max_input_tokens", "max_output_tokens", "max_cost_usd"},
	}
	agentObject = object{
		name: "Agent",
		fields: []string{"prompt", "exec", "skills", "timeout_secs", "timeout", "output_file", "mode",
			"max_turns", "runtime", "retries", "retry_backoff"},
		rejected: map[string]string{"messaging": notYetMessaging},
	}
	pipelineObject = object{
		name:   "Pipeline",
		fields: []string{"boxes", "stages", "max_parallel"},
	}
	boxObject = object{
		name: "Box",
		fields: []string{"name", "prompt", "exec", "skills", "llm", "sandbox", "timeout_secs", "timeout",
			"output_file", "max_turns", "runtime", "retries", "retry_backoff"},
		rejected: map[string]string{"outputs": notYetIO, "inputs": notYetIO},
	}
	// stageTypedObject is the seed's stage form: {type: box, name: X} or
	// {type: fan_out, boxes: [X, Y]}.
	stageTypedObject = object{name: "StageTyped", fields: []string{"type", "name", "boxes"}}
	// stageShortObject is the shorthand: {box: X} or {fan_out: [X, Y]}.
	stageShortObject = object{name: "StageShort", fields: []string{"box", "fan_out"}}
	workflowObject   = object{
		name:   "Workflow",
		fields: []string{"steps", "output_step", "max_parallel"},
	}
	stepObject = object{
		name: "Step",
		fields: []string{"name", "run", "depends_on", "timeout_secs", "timeout", "retries", "retry_backoff",
			"sandbox", "mode"},
	}
	runObject           = object{name: "Run", fields: []string{"program", "args", "stdin_from"}}
	skillInlineObject   = object{name: "SkillInline", fields: []string{"name", "content"}}
	skillMCPStdioObject = object{name: "SkillMCPStdio", fields: []string{"name", "command", "args", "env"}}
	skillMCPHTTPObject  = object{name: "SkillMCPHTTP", fields: []string{"name", "url"}}
)

// allObjects lists every object, for the schema test.
var allObjects = []*object{
	&specObject, &sandboxObject, &sandboxOverrideObject, &llmObject, &llmLimitsObject, &agentObject, &pipelineObject,
	&boxObject, &stageTypedObject, &stageShortObject, &workflowObject, &stepObject, &runObject,
	&skillInlineObject, &skillMCPStdioObject, &skillMCPHTTPObject,
}
