#!/usr/bin/env bash
# lab/provision.sh — the ONE script that makes a Debian 12 / Ubuntu host ready
# for plumb, its tests and its lab. CI (.ci/run) and the Vagrant box both call
# it, so they cannot drift apart. Run it as root:
#
#     sudo bash lab/provision.sh              # packages, Go, a running dockerd
#     sudo bash lab/provision.sh --no-docker  # only what plumb itself needs
#
# It is idempotent and fast when everything is already present: apt is only
# touched when a package is missing, dockerd only started when `docker info`
# fails. It deliberately does NOT `modprobe br_netfilter`: plumb must work with
# and without it, and the tests must see the host as it is.
set -euo pipefail

readonly MIN_GO=1.22.0 # and at least what go.mod asks for
readonly DOCKERD_LOG=/var/log/plumb-dockerd.log
readonly DOCKER_SOCK=/var/run/docker.sock
readonly DOCKER_WAIT_SECONDS=60

with_docker=1

log() { printf 'provision: %s\n' "$*"; }
die() { printf 'provision: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
	cat <<'EOF'
usage: provision.sh [--no-docker]

Installs plumb's build, test and lab dependencies (apt), makes sure a Go at
least as new as go.mod asks (and >= 1.22) is available, and that dockerd runs.

  --no-docker   skip docker.io and dockerd (for hosts that only want plumb)
EOF
}

while (($#)); do
	case "$1" in
	--no-docker) with_docker=0 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
	shift
done

[[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo bash $0)"

# ---------------------------------------------------------------- packages

# gcc is for cgo (go test -race, packages with C): with --no-install-recommends
# it comes without libc6-dev, and every cgo build then fails on <pthread.h>.
# debian-archive-keyring lets lab/build-images debootstrap Debian from an
# Ubuntu host too; ruby checks that the Vagrantfile parses (`ruby -c`, a
# test); util-linux brings nsenter and unshare for the lab's tests and build.
# nftables is for the tests only, which read `nft list ruleset`: plumb
# speaks nftables over netlink and never runs nft. etcd-server (3.4) is the
# cluster store of overlay networks: the tests start their own members
# (internal/etcdtest) and never use the packaged service.
packages=(
	iptables nftables iproute2 debootstrap dnsutils busybox-static conntrack
	iputils-ping curl ca-certificates procps kmod make git gcc libc6-dev
	debian-archive-keyring ruby util-linux containernetworking-plugins
	etcd-server
)
((with_docker)) && packages+=(docker.io)

# installed PKG: true when dpkg knows PKG as fully installed.
installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

# No prompts (CI has no stdin); needrestart (Ubuntu) must not ask or restart
# services behind our back.
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1

apt_updated=0
apt_update_once() {
	((apt_updated)) && return 0
	log "apt-get update"
	# A third-party source that is unreachable (e.g. on an offline mirror-only
	# host) makes apt-get update exit non-zero although Debian's own indexes
	# were fetched; the install below is the real test, so only warn here.
	if ! apt-get update -q; then
		log "warning: apt-get update reported errors; trying the install anyway"
	fi
	apt_updated=1
}

apt_install() {
	apt_update_once
	log "apt-get install $*"
	apt-get install -y -q --no-install-recommends "$@"
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
	log "missing packages: ${missing[*]}"
	apt_install "${missing[@]}"
else
	log "packages: all ${#packages[@]} present"
fi

# ---------------------------------------------------------------------- Go

# The Go this repository needs: go.mod's `toolchain` line, else its `go`
# line, but never below go1.22. Printed without the "go" prefix (1.26.8).
required_go() {
	local gomod v=""
	gomod="$(dirname "${BASH_SOURCE[0]}")/../go.mod"
	if [[ -f $gomod ]]; then
		v=$(sed -nE 's/^toolchain[[:space:]]+go([0-9][0-9.]*)[[:space:]]*$/\1/p' "$gomod")
		[[ -n $v ]] || v=$(sed -nE 's/^go[[:space:]]+([0-9][0-9.]*)[[:space:]]*$/\1/p' "$gomod")
	fi
	# Since Go 1.21 "go 1.N" means the release 1.N.0.
	[[ $v =~ ^1\.[0-9]+$ ]] && v="$v.0"
	if [[ -z $v ]] || ! version_ge "$v" "$MIN_GO"; then
		v=$MIN_GO
	fi
	printf '%s\n' "$v"
}

# version_ge A B: A >= B as versions (1.26.8 >= 1.22).
version_ge() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1) == "$2" ]]; }

# go_version GO: the version of the Go toolchain GO (1.26.8), or nothing.
go_version() { "$1" env GOVERSION 2>/dev/null | sed -nE 's/^go([0-9][0-9.]*).*/\1/p'; }

# go_candidates: every Go toolchain on this host, ours (/usr/local/go) first.
go_candidates() {
	local g
	for g in /usr/local/go/bin/go "$(command -v go || true)" /usr/lib/go-1.*/bin/go; do
		[[ -n $g && -x $g ]] && printf '%s\n' "$g"
	done
	return 0
}

# usable_go WANT: the first Go toolchain at version WANT or newer, or nothing.
usable_go() {
	local g v
	while read -r g; do
		v=$(go_version "$g")
		if [[ -n $v ]] && version_ge "$v" "$1"; then
			printf '%s\n' "$g"
			return 0
		fi
	done < <(go_candidates)
	return 0
}

# install_go_toolchain BOOTSTRAP WANT: installs Go WANT into /usr/local/go,
# fetched by the (older) Go BOOTSTRAP as the module golang.org/toolchain from
# the Go module proxy -- the very thing GOTOOLCHAIN=auto does, the checksum
# database (sum.golang.org, reached through the proxy) verifying the download. A previous /usr/local/go is
# moved aside, not deleted.
install_go_toolchain() {
	local boot=$1 want=$2 arch mod tmp dir out
	case "$(uname -m)" in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	*) die "no Go toolchain module for $(uname -m); install Go $want into /usr/local/go by hand" ;;
	esac
	mod="golang.org/toolchain@v0.0.1-go$want.linux-$arch"
	tmp=$(mktemp -d /tmp/plumb-provision-go.XXXXXX)
	# shellcheck disable=SC2064 # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	log "fetching Go $want from the Go module proxy ($mod) with $boot"
	if ! out=$(cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-modcacherw GOMODCACHE="$tmp/mod" GOPATH="$tmp/gopath" \
		"$boot" mod download -json "$mod" 2>&1); then
		printf '%s\n' "$out" >&2
		die "downloading $mod failed (is the Go module proxy reachable? GOPROXY=$("$boot" env GOPROXY))"
	fi
	dir=$(printf '%s\n' "$out" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')
	[[ -n $dir && -f $dir/bin/go ]] || die "downloading $mod: no bin/go in ${dir:-its output}"
	cp -a "$dir" "$tmp/go"
	# Module zips do not keep file modes: make the tools executable again.
	chmod -R u+w,go-w "$tmp/go"
	chmod 0755 "$tmp/go"/bin/* "$tmp"/go/pkg/tool/*/*
	if [[ -e /usr/local/go ]]; then
		log "moving the old /usr/local/go aside to /usr/local/go.old.$$"
		mv /usr/local/go "/usr/local/go.old.$$"
	fi
	mv "$tmp/go" /usr/local/go
	rm -rf "$tmp"
	trap - EXIT
}

want_go=$(required_go)
gobin=$(usable_go "$want_go")
if [[ -n $gobin && $gobin != /usr/local/go/bin/go && -x /usr/local/go/bin/go ]]; then
	# An old /usr/local/go would shadow $gobin on the PATH .ci/run and the
	# Makefile use: replace it (install_go_toolchain keeps it aside).
	log "/usr/local/go is go$(go_version /usr/local/go/bin/go), older than $want_go, and comes first on PATH"
	install_go_toolchain /usr/local/go/bin/go "$want_go"
	gobin=$(usable_go "$want_go")
fi
if [[ -z $gobin ]]; then
	boot=$(go_candidates | head -n1)
	if [[ -z $boot ]]; then
		log "no Go toolchain found; installing Debian's golang-go as a fallback"
		apt_install golang-go
		boot=$(go_candidates | head -n1)
		[[ -n $boot ]] || die "golang-go installed no go command"
	fi
	gobin=$(usable_go "$want_go")
	if [[ -z $gobin ]]; then
		# Debian 12's golang-go is 1.19, Ubuntu 22.04's 1.18: too old for go.mod.
		log "Go at $boot is $(go_version "$boot"); this repository needs $want_go"
		install_go_toolchain "$boot" "$want_go"
		gobin=$(usable_go "$want_go")
		[[ -n $gobin ]] || die "no usable Go >= $want_go after installing it"
	fi
fi
log "go: $gobin (go$(go_version "$gobin"); need >= go$want_go)"

# ------------------------------------------------------------------ cnitool

# cnitool drives plumb as a CNI plugin in the tests, as a runtime would. It
# is built from the containernetworking/cni module at the version go.mod
# requires, so the tool and the plugin speak the same library.
cni_version() {
	sed -nE 's#^[[:space:]]*(require[[:space:]]+)?github.com/containernetworking/cni[[:space:]]+(v[0-9][^[:space:]]*).*#\2#p' \
		"$(dirname "${BASH_SOURCE[0]}")/../go.mod" | head -n1
}
want_cni=$(cni_version)
[[ -n $want_cni ]] || die "no github.com/containernetworking/cni version in go.mod"
have_cni=$("$gobin" version -m /usr/local/bin/cnitool 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/containernetworking/cni" {print $3}' || true)
if [[ $have_cni == "$want_cni" ]]; then
	log "cnitool: /usr/local/bin/cnitool ($have_cni)"
else
	log "installing cnitool $want_cni into /usr/local/bin (go install)"
	GOBIN=/usr/local/bin GOFLAGS=-modcacherw "$gobin" install "github.com/containernetworking/cni/cnitool@$want_cni" ||
		die "go install github.com/containernetworking/cni/cnitool@$want_cni failed (is the Go module proxy reachable?)"
fi

# ------------------------------------------------------------------ dockerd

docker_up() { timeout 10 docker info >/dev/null 2>&1; }

start_dockerd() {
	local pid1
	pid1=$(ps -p 1 -o comm= 2>/dev/null || true)
	if [[ $pid1 == systemd ]]; then
		log "starting docker (systemctl start docker)"
		systemctl start docker || true
	else
		# No systemd as PID 1 (containers, CI sandboxes, firecracker VMs):
		# start dockerd ourselves, in its own session so it outlives this
		# script and the job that ran it.
		if pgrep -x dockerd >/dev/null; then
			log "dockerd is running (pid $(pgrep -x dockerd | paste -sd ' ')) but does not answer yet; waiting"
		else
			log "starting dockerd in the background (PID 1 is '$pid1', not systemd); log: $DOCKERD_LOG"
			setsid nohup dockerd </dev/null >>"$DOCKERD_LOG" 2>&1 &
		fi
	fi
	local start=$SECONDS
	while ((SECONDS - start < DOCKER_WAIT_SECONDS)); do
		if [[ -S $DOCKER_SOCK ]] && docker_up; then
			log "dockerd is up after $((SECONDS - start))s"
			return 0
		fi
		sleep 1
	done
	printf 'provision: ERROR: dockerd did not come up within %ss (socket %s); last lines of %s:\n' \
		"$DOCKER_WAIT_SECONDS" "$DOCKER_SOCK" "$DOCKERD_LOG" >&2
	tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
	exit 1
}

if ((with_docker)); then
	command -v dockerd >/dev/null || die "dockerd not found although docker.io is installed"
	if docker_up; then
		log "dockerd: already running"
	else
		start_dockerd
	fi
	log "docker: $(docker version -f 'client {{.Client.Version}}, server {{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '?')"
else
	log "docker: skipped (--no-docker)"
fi

log "done"
