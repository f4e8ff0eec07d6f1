package spec

// The objects of the format. Each is one $defs entry of the JSON Schema
// (schema/voidbox.schema.json); schema_test.go checks that both list the same
// fields, and that every refused field is refused by the schema too.

// Reasons for fields the format recognises but refuses today.
const (
	topLevelOnly    = "can only be set in the top-level sandbox"
	notYetMessaging = "agent messaging is not available yet"
)

var (
	specObject = object{
		name:       "Spec",
		fields:     []string{"api_version", "kind", "name", "sandbox", "llm", "agent", "pipeline", "workflow", "observe"},
		extensions: true,
	}
	sandboxObject = object{
		name: "Sandbox",
		fields: []string{"mode", "kernel", "initramfs", "memory_mb", "vcpus", "network", "env",
			"allowed_commands", "timeout", "disk_mb", "image", "mounts", "attach_shell", "ports", "ca_certificates", "guest_image", "snapshot"},
	}
	sandboxOverrideObject = object{
		name:   "SandboxOverride",
		fields: []string{"memory_mb", "vcpus", "network", "env", "allowed_commands", "disk_mb", "image", "mounts", "attach_shell", "ports", "ca_certificates", "snapshot"},
		rejected: map[string]string{
			"mode": topLevelOnly, "kernel": topLevelOnly, "initramfs": topLevelOnly,
			"guest_image": noGuestImage, "timeout": topLevelOnly,
		},
	}
	// networkObject and netLimitsObject are the mapping form of network;
	// internal/netpolicy parses the values.
	networkObject   = object{name: "Network", fields: []string{"allow", "deny", "host_ports", "hosts", "limits"}}
	netLimitsObject = object{name: "NetLimits", fields: []string{"conns_per_second", "max_flows", "max_bytes"}}
	llmObject       = object{
		name:   "LLM",
		fields: []string{"provider", "model", "base_url", "api_key_env", "credential_proxy", "limits"},
	}
	llmLimitsObject = object{
		name:   "LLMLimits",
		fields: []string{"max_requests", "max_input_tokens", "max_output_tokens", "max_cost_usd"},
	}
	agentObject = object{
		name: "Agent",
		fields: []string{"prompt", "exec", "skills", "timeout_secs", "timeout", "output_file", "mode",
			"max_turns", "runtime", "retries", "retry_backoff", "ports"},
		rejected: map[string]string{"messaging": notYetMessaging},
	}
	pipelineObject = object{
		name:   "Pipeline",
		fields: []string{"boxes", "stages", "max_parallel"},
	}
	boxObject = object{
		name: "Box",
		fields: []string{"name", "prompt", "exec", "skills", "llm", "sandbox", "timeout_secs", "timeout",
			"output_file", "max_turns", "runtime", "retries", "retry_backoff", "outputs", "inputs", "mode", "ports"},
	}
	mountObject  = object{name: "Mount", fields: []string{"host", "guest", "mode"}}
	outputObject = object{name: "BoxOutput", fields: []string{"name", "guest"}}
	inputObject  = object{name: "BoxInput", fields: []string{"from", "guest"}}
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
			"sandbox", "mode", "output_file", "ports"},
	}
	runObject           = object{name: "Run", fields: []string{"program", "args", "stdin_from"}}
	skillInlineObject   = object{name: "SkillInline", fields: []string{"name", "content"}}
	skillMCPStdioObject = object{name: "SkillMCPStdio", fields: []string{"name", "command", "args", "env"}}
	skillMCPHTTPObject  = object{name: "SkillMCPHTTP", fields: []string{"name", "url"}}
	skillOCIObject      = object{name: "SkillOCI", fields: []string{"oci", "image", "mount", "readonly"}}
)

// allObjects lists every object, for the schema test.
var allObjects = []*object{
	&specObject, &sandboxObject, &sandboxOverrideObject, &networkObject, &netLimitsObject, &llmObject, &llmLimitsObject, &agentObject, &pipelineObject,
	&boxObject, &stageTypedObject, &stageShortObject, &workflowObject, &stepObject, &runObject,
	&skillInlineObject, &skillMCPStdioObject, &skillMCPHTTPObject, &skillOCIObject,
	&mountObject, &outputObject, &inputObject, &observeObject,
}
