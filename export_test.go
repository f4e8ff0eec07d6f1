package voidbox

// ExecRoot lets the external tests run a command as root in the guest, as
// the host's provisioning path does (e.g. to prove a root-only file exists).
var ExecRoot = (*Sandbox).execRoot
