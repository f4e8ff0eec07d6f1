#!/usr/bin/env bash
# Runs voidbox's tests: unit, VM integration (real QEMU boots) and CLI end to end.
# Sets up what the tests need first: QEMU (apt-get, as root on Debian), Go
# modules, the guest kernel and image (downloaded into the voidbox cache).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_go
ensure_host_packages
go mod download
# Prepare the guest image once, with visible progress, before the tests use it.
go run ./cmd/voidbox setup
go vet ./...
# staticcheck found a real bug here once (a shadowed err); SA1019 is off
# because tests deliberately use deprecated model names the fakes price.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -checks inherit,-SA1019 ./...
# VM tests fail (never skip) when a VM cannot boot. -p 1: the VM tests of
# different packages would otherwise compete for the two cores under TCG.
go test -p 1 -timeout 60m -count=1 "$@" ./...
