# Shared set-up for the scripts in this directory. Source it; do not run it.

need_go() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			echo "voidbox: Go 1.26 or newer is needed (https://go.dev/dl/); 'go' is not on PATH" >&2
			exit 1
		fi
	fi
}

# Host packages, as "what-to-check:debian-package". A check is a command on
# PATH or, when it starts with '/', a file.
#   run:  what voidbox itself needs to boot VMs.
#   test: what the tests need beyond that (each named where it is used).
RUN_PACKAGES=(
	qemu-system-x86_64:qemu-system-x86
)
TEST_PACKAGES=(
	busybox:busybox-static                        # internal/claudecode real-run tests: a static userland to chroot into
	gcc:gcc                                       # internal/setup: a dynamically linked binary to reject
	git:git                                       # Go modules from VCS
	/etc/ssl/certs/ca-certificates.crt:ca-certificates # Go module downloads over TLS
	redis-server:redis-server                     # internal/store: the Valkey store's tests start their own (never a system one)
	docker-registry:docker-registry               # internal/oci: a real registry (distribution 2.8) the tests start on loopback
	mkfs.erofs:erofs-utils                        # internal/rootfs: image root filesystems (and fsck.erofs/dump.erofs to read them back)
	/usr/sbin/mkfs.ext4:e2fsprogs                 # internal/rootfs: the ext4 format (and debugfs to read it back)
	fakeroot:fakeroot                             # internal/rootfs: image ownership without root
	setfattr:attr                                 # internal/rootfs: image xattrs
	ip:iproute2                                   # cmd/voidbox: the seed network: true test's own network namespace
	passt:passt                                   # voidbox bench net: the passt baseline
	tmux:tmux                                     # cmd/voidbox: the panel view and shell tests drive the real binary in a terminal
)

# ensure_host_packages SPEC... installs the Debian packages whose check fails,
# when we are root on Debian; otherwise it names them and stops.
ensure_host_packages() {
	local missing=() spec what pkg
	for spec in "$@"; do
		what=${spec%%:*} pkg=${spec#*:}
		case $what in
		/*) [ -e "$what" ] && continue ;;
		*) command -v "$what" >/dev/null 2>&1 && continue ;;
		esac
		missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "voidbox: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		# Servers in these packages (redis-server, docker-registry) are for
		# the tests, which start their own: keep apt from starting services.
		local guard=""
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			guard=/usr/sbin/policy-rc.d
			printf '#!/bin/sh\nexit 101\n' >"$guard" && chmod 755 "$guard"
		fi
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		if [ -n "$guard" ]; then rm -f "$guard"; fi
	else
		echo "voidbox: these Debian packages are needed: ${missing[*]}" >&2
		echo "voidbox: install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
		exit 1
	fi
}
