#!/usr/bin/env bash
# The main job: build voidbox, prepare the host (QEMU, guest kernel and image),
# then run one command and one fan-out pipeline, each stage in its own micro-VM.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_go
ensure_host_packages "${RUN_PACKAGES[@]}"
mkdir -p bin
go build -o bin/voidbox ./cmd/voidbox
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/voidbox-guest ./cmd/voidbox-guest
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/voidbox-agent ./cmd/voidbox-agent
bin/voidbox setup

echo
echo '$ voidbox exec -- uname -r        # the guest kernel, not the host one'
bin/voidbox exec -- uname -r
echo
echo '$ voidbox run --file examples/fanout.yaml'
bin/voidbox run --file examples/fanout.yaml "$@"
