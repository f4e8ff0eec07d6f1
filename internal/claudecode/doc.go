// Package claudecode runs Anthropic's claude-code CLI as an agent runtime
// inside the guest: it builds the "claude-code" image flavour and turns a
// stage's settings into the command line and environment of a headless
// run. Package streamjson reads what the run prints.
//
// # What the flavour is
//
// @anthropic-ai/claude-code is only a wrapper package now; the CLI is a
// 402 MB Bun-compiled ELF in @anthropic-ai/claude-code-linux-x64, linked
// against glibc (libc, libm, libpthread, libdl, librt and
// /lib64/ld-linux-x86-64.so.2). No Node is needed. The guest is a busybox
// initramfs without glibc and the binary is far too big for an initramfs,
// so the flavour is a directory in the voidbox cache, built by BuildImage
// (`voidbox image build claude`):
//
//	<cache>/flavours/claude-code-<version>-<libc6 version>/
//	    bin/claude    the npm binary, sha512-verified
//	    bin/bash      Debian's bash: the Bash tool accepts only bash or zsh
//	    lib/          ld-linux-x86-64.so.2, libc.so.6, … libtinfo.so.6: the
//	                  DT_NEEDED closure of both binaries, from Debian's
//	                  libc6 and libtinfo6, under their sonames
//	    flavour.json  versions, integrity, files and sizes
//
// # What the guest must do to run it
//
//  1. Mount the directory read-only at GuestDir (/opt/voidbox/claude-code),
//     e.g. virtio-9p, readable by uid 1000.
//  2. Create Image.GuestSymlinks(): /lib64/ld-linux-x86-64.so.2 → the
//     flavour's loader (the path compiled into the binaries), and
//     /lib/x86_64-linux-gnu/<lib> → each library (the loader's default
//     search directory, so no LD_LIBRARY_PATH leaks into tool commands).
//     Running the loader explicitly instead does not work: claude-code
//     re-executes process.execPath for helpers, which would be the loader.
//     On a root with a glibc of its own (an OCI image) make none of them if
//     that glibc loads the binary, and set Config.Shell to its bash: the
//     links would shadow the glibc the root's programs are built for.
//  3. Give the sandbox user a writable HOME (GuestHome, /home/sandbox), a
//     writable /tmp, /proc and /dev; put skills at SkillPath(home, name).
//  4. Run Command(cfg) as uid 1000 in /workspace with cfg.Stdin() on stdin
//     (EOF when empty), and feed stdout to streamjson.ParseStream.
//
// Measured on the host (2.1.332, two-turn tasks): the claude process is a
// small supervisor that re-executes itself; the worker peaks at about
// 200 MB RSS, 110 MB of it anonymous and the rest pages of the mapped
// binary. A 256 MiB guest is therefore too small: give claude-code stages
// 512 MiB or more. Killing only the supervisor's PID leaves the worker
// running, so stop a run by its process group (or with the VM).
package claudecode
