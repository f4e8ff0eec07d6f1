// Package escape holds voidbox's escape and fault suites, and nothing else:
// its tests boot real VMs and, as the sandbox user (uid 1000), try what an
// attacker in a guest would (read PID 1's environment and the control
// secret, mount, load modules, reach the control port and the firmware's
// I/O ports, open namespaces, ptrace PID 1), then break the host side on
// purpose (QEMU killed mid-stage, a fork bomb, an output flood). Every case
// asserts that the attempt failed and that nothing leaked on the host: no
// QEMU or helper process, no runtime directory or socket, no descriptor of
// the test process.
//
// The guest-side cases share one VM; each fault has a VM of its own.
// testdata/prober is a static helper uploaded into the guest for the probes a
// shell cannot make (raw system calls).
package escape
