#!/usr/bin/env bash
# Runs voidbox's tests: unit, VM integration (real QEMU boots) and CLI end to end.
# Sets up what the tests need first: host packages (apt-get, as root on Debian;
# otherwise it names them), Go modules, the guest kernel and image (downloaded
# into the voidbox cache). Extra arguments go to both go test runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# CI must run every tier: the developer opt-outs are refused there (the tests
# refuse them too, see internal/testgate).
if [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; then
	for v in VOIDBOX_SKIP_VM_TESTS VOIDBOX_SKIP_NETWORK_TESTS; do
		if [ -n "${!v:-}" ]; then
			echo "voidbox: $v is set under CI=$CI; CI runs every test (unset it)" >&2
			exit 1
		fi
	done
fi

need_go
ensure_host_packages "${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
go mod download
# Prepare the guest image once, with visible progress, before the tests use it.
go run ./cmd/voidbox setup
go vet ./...
# staticcheck found a real bug here once (a shadowed err); SA1019 is off
# because tests deliberately use deprecated model names the fakes price.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -checks inherit,-SA1019 ./...

# Packages whose tests boot VMs (they import internal/vmtest) run without the
# race detector, one package at a time (-p 1: VM tests of different packages
# would otherwise compete for the cores under TCG). Every other package runs
# with -race. VM tests fail, never skip, when a VM cannot boot.
vm_pkgs=() race_pkgs=()
while read -r pkg imports; do
	case " $imports " in
	*" github.com/voidbox/voidbox/internal/vmtest "*) vm_pkgs+=("$pkg") ;;
	*) race_pkgs+=("$pkg") ;;
	esac
done < <(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...)
echo "voidbox: race detector on ${#race_pkgs[@]} packages; ${#vm_pkgs[@]} packages boot VMs" >&2
# Both sets run even when the first fails, so one run reports every failure.
status=0
go test -race -timeout 30m -count=1 "$@" "${race_pkgs[@]}" || status=1
go test -p 1 -timeout 60m -count=1 "$@" "${vm_pkgs[@]}" || status=1

# The slim guest kernel (built here from linux-source-6.1, a few minutes)
# boots the VM tests of the sandbox core, the escape suite and the public
# API again: the generic kernel stays the default, so both are tested.
slim_pkgs=(github.com/voidbox/voidbox github.com/voidbox/voidbox/internal/sandbox github.com/voidbox/voidbox/internal/escape)
if go run ./cmd/voidbox kernel build; then
	VOIDBOX_KERNEL=slim go test -p 1 -timeout 30m -count=1 "$@" "${slim_pkgs[@]}" || status=1
else
	status=1
fi
exit $status
