// Package testgate decides whether a test may honour a developer's opt-out
// (VOIDBOX_SKIP_VM_TESTS=1, VOIDBOX_SKIP_NETWORK_TESTS=1). Under CI ($CI set
// to anything but "", "0" or "false", as CI systems do) an opt-out is refused:
// the test fails, so CI can never pass without running it.
package testgate

import (
	"os"
	"testing"
)

// Opt-out variables.
const (
	SkipVM      = "VOIDBOX_SKIP_VM_TESTS"      // tests that boot a VM
	SkipNetwork = "VOIDBOX_SKIP_NETWORK_TESTS" // tests that download from Debian or npm
)

// InCI reports whether the tests run under CI.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && v != "false"
}

// Skip skips t when the developer set the opt-out variable to 1, and fails
// t when it is set under CI. Only tests that need what the variable names
// call it: tests of spec errors or bad flags run regardless.
func Skip(t testing.TB, variable, what string) {
	t.Helper()
	v := os.Getenv(variable)
	if v == "" {
		return
	}
	if InCI() {
		t.Fatalf("%s=%q is set under CI=%q: CI must run the tests that need %s", variable, v, os.Getenv("CI"), what)
	}
	if v == "1" {
		t.Skipf("%s=1: skipping a test that needs %s", variable, what)
	}
}
