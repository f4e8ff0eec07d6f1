// Package codex runs OpenAI's Codex CLI (`codex exec --json`) as an agent
// runtime inside the guest: it fetches the pinned CLI from npm into the
// "codex" flavour of the voidbox cache and turns a stage's settings into
// the command line, environment and ~/.codex/config.toml of a headless
// run. Package execjson reads what the run prints.
//
// # What the flavour is
//
// @openai/codex is a Node wrapper; the CLI itself is a static-pie musl
// binary (315 MB for 0.171.0) in the platform package
// @openai/codex@<version>-linux-x64, with ripgrep beside it. Neither needs
// a libc, so the flavour is two files, mounted read-only at GuestDir:
//
//	<cache>/flavours/codex-<version>/
//	    bin/codex     package/vendor/x86_64-unknown-linux-musl/bin/codex
//	    bin/rg        …/codex-path/rg (Codex searches files with it)
//	    flavour.json  version, integrity, sizes and sha256 of both
//
// The tarball's sha512 is pinned here (Integrity), not taken from the
// registry: a registry that answers another digest is refused.
//
// # How a run reaches the model
//
// Codex talks to the OpenAI Responses API (POST {base_url}/responses,
// streamed). ConfigTOML defines a model provider "voidbox" whose base_url
// is the in-guest gateway endpoint and whose key is read from
// PlaceholderEnv, which holds only a placeholder: the host gateway drops
// it and adds the real key. Codex's own sandbox (bubblewrap, landlock,
// seccomp) is turned off with --dangerously-bypass-approvals-and-sandbox:
// the VM is the sandbox, and the guest's busybox root has no bwrap.
package codex
