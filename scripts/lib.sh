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

# ensure_host_packages installs QEMU and the tools the tests use when they are
# missing and we are root on Debian; otherwise it says what to install.
ensure_host_packages() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
	# OCI images: root file systems are built with mkfs.erofs or mkfs.ext4
	# under fakeroot (setfattr for xattrs), read back in tests with
	# fsck.erofs/dump.erofs and debugfs; docker-registry is a test registry.
	command -v mkfs.erofs >/dev/null 2>&1 || missing+=(erofs-utils)
	[ -x /sbin/mkfs.ext4 ] || [ -x /usr/sbin/mkfs.ext4 ] || missing+=(e2fsprogs)
	command -v fakeroot >/dev/null 2>&1 || missing+=(fakeroot)
	command -v setfattr >/dev/null 2>&1 || missing+=(attr)
	command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
	command -v apt-get >/dev/null 2>&1 || { [ ${#missing[@]} -eq 0 ] && return 0; }
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "voidbox: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "voidbox: please install: ${missing[*]} (e.g. sudo apt-get install --no-install-recommends ${missing[*]})" >&2
		exit 1
	fi
}
