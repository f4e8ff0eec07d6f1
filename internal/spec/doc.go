// Package spec reads voidbox specs: YAML (or JSON) files that declare an
// agent, a pipeline of boxes, a workflow of commands, or a sandbox. It turns
// them into a typed, validated model (Spec) with every default applied and
// every problem reported at once, each with file:line:col and its path in
// the document:
//
//	pipeline.yaml:14:5: pipeline.stages[2].fan_out[1]: unknown box "x" (defined: a, b)
//
// The format is the seed project's (api_version v1), so seed specs parse,
// with these differences, each reported with a reason:
//
//   - Decoding is strict: unknown fields, wrong types (a quoted "512" is not
//     an integer, yes/no are not booleans), duplicate keys and bad values are
//     errors. Fields named "x-..." at the top level are ignored, as a place
//     for YAML anchors; anchors, aliases and merge keys ("<<") work anywhere.
//   - Refused until the feature exists: sandbox.network: true,
//     agent messaging. mode: service works for workflow steps, pipeline
//     boxes and agents; mode: interactive for a kind: agent spec's agent
//     only, with runtime claude-code (the built-in agent has no session),
//     run by voidbox shell --file.
//     Seed fields with another meaning are accepted with a notice
//     (Spec.Notices): sandbox.mode: mock (voidbox always boots a VM),
//     llm.credential_proxy: true (the gateway always keeps keys out of the
//     guest; false is refused), sandbox.guest_image (not pulled: voidbox boots
//     its own kernel and guest init), an interactive agent without a runtime
//     (Claude Code's session, the seed's only agent).
//   - A service may declare ports: the TCP ports it listens on, by which it
//     is ready and its dependants reach it as NAME:PORT (not a seed field).
//   - A file: skill without front matter is named by its file, as the seed
//     names it.
//   - sandbox.mounts: a missing host path is an error, rw too (the seed
//     created missing rw paths), and a notice under ParseOptions.CheckOnly
//     (voidbox validate); a box's list replaces the inherited one;
//     mounts may not nest. Skills other than oci: and agent: on an exec box
//     are errors (the seed ignored them). sandbox.mode auto and local are both what voidbox does (a
//     local VM; auto never falls back to running without one).
//   - allowed_commands lists program names only (the seed also took paths);
//     [] allows no command. runtime claude-code with an allowlist is refused
//     (it could not be enforced).
//   - llm.provider is one of claude (alias anthropic), claude-personal (the
//     host's Claude subscription login, which stays on the host: the seed
//     copied it into the guest), openai, ollama, lm-studio (LM Studio's
//     server at localhost:1234, needing model) and custom (an
//     Anthropic-compatible endpoint, needing base_url). Other names, codex
//     among them, are errors; the seed silently turned them into claude.
//   - observe (the seed parsed and ignored it) selects OTLP traces, metrics
//     and logs (each true unless set false), otlp_endpoint and service_name;
//     telemetry_buffer_size is refused (the SDK bounds its own queues).
//
// Additions: exec (a command box instead of an agent), sandbox.
// allowed_commands, sandbox.timeout and sandbox.disk_mb, sandbox.image and
// mounts in a box's sandbox, OCI skills spelled {oci, mount} (the seed's
// {image, mount, readonly: true} too) with a default mount, timeout as a duration string next to
// timeout_secs, max_turns, runtime (voidbox or claude-code; agent:NAME skills
// select it too), retries and retry_backoff, output_file on pipeline boxes,
// max_parallel, shorthand stages {box: X} and {fan_out: [X, Y]}, and MCP
// skills over streamable HTTP ({name, url}).
//
// Decisions worth knowing when running a model:
//
//   - Every Box and Step carries its effective Sandbox and LLM: the
//     top-level blocks with the box's override merged on top (env merges by
//     variable; an llm block naming another provider starts afresh).
//   - Memory is in MiB (Sandbox.MemoryMiB; MemoryBytes converts). Durations
//     are time.Duration; zero means "not given".
//   - Env values of "" are copied from the host at run time (EnvValue.
//     FromHost); Env.Resolve does it.
//   - A pipeline without stages runs its boxes in order. With stages, every
//     box is used exactly once. The first stage may be a fan-out: each of
//     its boxes receives the pipeline's input.
//   - Workflow stdin_from is also a dependency (Step.Needs). output_step
//     defaults to the last step declared.
//   - Relative host paths (skill files, kernel, initramfs, mounts) resolve
//     against the spec file's directory and must exist at parse time; SKILL.md files
//     are read then (Skill.Content) and need front matter with name and
//     description.
//   - An exec box's program, and a workflow step's, must pass the sandbox's
//     allowlist (Sandbox.Allows), so that a spec the guest would refuse is
//     refused here first.
//
// Parsing is bounded: input over MaxSize is refused unread, aliases may
// expand to at most 100,000 nodes, nesting is limited, and at most 100
// problems are listed. FuzzParse keeps it that way.
//
// schema/voidbox.schema.json is the same format as a JSON Schema (draft
// 2020-12) for editors; schema_test.go keeps the two in sync.
package spec
