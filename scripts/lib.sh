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
	# The Valkey store's tests start their own redis-server (never a system one).
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
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
