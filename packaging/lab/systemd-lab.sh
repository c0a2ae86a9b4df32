#!/bin/bash
# systemd-lab.sh: a real systemd and a real SysV `service` for rulekeeper's init-system tests.
#
# The tests run the real Falco builds (RULEKEEPER_FALCO_DIR) as a service and reload them through
# the init system, so they need the real thing: a Debian bookworm root (debootstrap, cached, with
# Falco's runtime libraries and git) booted with systemd-nspawn, and the same root run once with a
# plain shell as init for SysV. The test binaries are built on the host and run INSIDE the container
# (go test -exec), because MainPID values and systemctl only make sense from within.
#
# Usage (as root, on Debian 12):
#   systemd-lab.sh setup         install systemd-container + debootstrap, build the root (cached)
#   systemd-lab.sh up            setup, then boot the root and wait for SystemState=running
#   systemd-lab.sh down          stop the booted container and clean up after it
#   systemd-lab.sh exec BIN ...  go test -exec wrapper: run BIN inside the booted container
#   systemd-lab.sh sysv BIN ...  go test -exec wrapper: run BIN in a one-shot container without
#                                systemd as init (Debian's `service` then runs /etc/init.d scripts)
#   systemd-lab.sh env           print the GOTMPDIR to export so test binaries land on a bound path
#
# Example:
#   bash packaging/lab/systemd-lab.sh up
#   export GOTMPDIR=$(bash packaging/lab/systemd-lab.sh env)
#   go test -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh exec" -run '^TestLabSystemd' ./agent/initsys/
#   go test -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh sysv" -run '^TestLabSysV' ./agent/initsys/
#   bash packaging/lab/systemd-lab.sh down
#
# Environment: RULEKEEPER_LAB_DIR (default /var/cache/rulekeeper-lab) holds the root (reused when
# present), the bound GOTMPDIR, the D-Bus socket folder and the run state. RULEKEEPER_FALCO_DIR
# (default ../shared/falco beside the checkout) is the folder of the real Falco builds, bound
# read-only into both containers at the same path. The root is built from the Debian mirror apt
# uses for bookworm (apt-get indextargets); with none, setup fails and says so.
set -euo pipefail

LAB=${RULEKEEPER_LAB_DIR:-/var/cache/rulekeeper-lab}
ROOT=$LAB/root
GOTMP=$LAB/gotmp
STATE=$LAB/run
BUS=$LAB/bus
NAME=rulekeeper-lab
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STANDIN=$GOTMP/bin/falco # named falco: rulekeeper checks /proc/PID/comm
# The real Falco builds (internal/testkit/realfalco), bound into the containers at the same path.
FALCO_DIR=${RULEKEEPER_FALCO_DIR:-$REPO/../shared/falco}

log() { echo "systemd-lab: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn, debootstrap, cgroups)"

mirror() {
	# debootstrap must use the mirror apt already uses for bookworm: the machine may reach no other.
	# apt itself says which (sources.list, sources.list.d, one-line or deb822 alike).
	local m
	m=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
		awk '$2 == "bookworm" && $3 == "main" {print $1; exit}')
	[ -n "$m" ] || die "apt names no Debian bookworm mirror with main (apt-get indextargets): add one to /etc/apt/sources.list.d/ (e.g. URIs: http://deb.debian.org/debian, Suites: bookworm, Components: main), or build $ROOT yourself"
	echo "$m"
}

install_packages() {
	if command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null; then
		return
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Pinned to the host's systemd, else apt upgrades the host's systemd packages along with it.
	local v
	v=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null || true)
	if [ -z "$v" ] || ! apt-get install -y -qq --no-install-recommends "systemd-container=$v" debootstrap; then
		log "systemd-container=$v not available; installing the newest"
		apt-get install -y -qq --no-install-recommends systemd-container debootstrap
	fi
}

# What the root holds; a root built from another list is built again (the marker names the list).
# procps: minbase has no /bin/kill, and `ExecReload=/bin/kill -HUP $MAINPID` fails without it.
# git: `git daemon` serves the policy to the installed agent. The lib* packages: what the real Falco
# builds link against (internal/testkit/realfalco.RuntimePackages).
INCLUDE=systemd,dbus,procps,init-system-helpers,git,libgrpc++1.51,libprotobuf32,libc-ares2,libcurl4,libelf1,libtbb12,libre2-9,libssl3,libjq1,libjsoncpp25
MARK=$ROOT/.rulekeeper-lab-ok

build_root() {
	if [ -x "$ROOT/lib/systemd/systemd" ] && [ "$(cat "$MARK" 2>/dev/null)" = "$INCLUDE" ]; then
		return
	fi
	rm -rf "$ROOT.tmp"
	mkdir -p "$LAB"
	local m
	m=$(mirror)
	log "building the lab's root from $m (a few minutes; cached in $ROOT)"
	debootstrap --variant=minbase --include="$INCLUDE" bookworm "$ROOT.tmp" "$m" >"$LAB/debootstrap.log" 2>&1 ||
		die "debootstrap failed, see $LAB/debootstrap.log"
	# Without this, systemd empties /tmp at boot, test files included.
	mkdir -p "$ROOT.tmp/etc/tmpfiles.d"
	echo 'd /tmp 1777 root root -' >"$ROOT.tmp/etc/tmpfiles.d/tmp.conf"
	echo "$INCLUDE" >"$ROOT.tmp/.rulekeeper-lab-ok"
	rm -rf "$ROOT"
	mv "$ROOT.tmp" "$ROOT"
}

setup() {
	FALCO_DIR=$(cd "$FALCO_DIR" 2>/dev/null && pwd) && [ -x "$FALCO_DIR/0.32.1/falco" ] ||
		die "no real Falco builds in ${RULEKEEPER_FALCO_DIR:-../shared/falco}: set RULEKEEPER_FALCO_DIR to the folder with 0.32.1/falco and 0.40.0/falco"
	install_packages
	build_root
	mkdir -p "$GOTMP" "$STATE" "$BUS"
}

nspawn_pid() {
	local p
	p=$(cat "$STATE/nspawn.pid" 2>/dev/null) || return 1
	[ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2>/dev/null)" = systemd-nspawn ] && echo "$p"
}

# The container's init as the host sees it: the systemd process among nspawn's descendants.
leader_pid() {
	local n c
	n=$(nspawn_pid) || return 1
	for c in $(pgrep -P "$n"); do
		if [ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ]; then echo "$c"; return 0; fi
		for g in $(pgrep -P "$c"); do
			if [ "$(cat /proc/"$g"/comm 2>/dev/null)" = systemd ]; then echo "$g"; return 0; fi
		done
	done
	return 1
}

system_state() {
	DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUS/system_bus_socket busctl --system get-property \
		org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager SystemState 2>/dev/null
}

up() {
	setup
	if nspawn_pid >/dev/null; then
		log "already up (nspawn pid $(nspawn_pid))"
		return
	fi
	local h
	for h in systemd unified; do mkdir -p "/sys/fs/cgroup/$h/$NAME"; done
	# Own cgroup first, else nspawn leaves /payload and /supervisor cgroups at the root.
	(
		for h in systemd unified; do echo "$BASHPID" >"/sys/fs/cgroup/$h/$NAME/cgroup.procs"; done
		exec setsid systemd-nspawn -q -D "$ROOT" --boot --register=no --keep-unit --console=passive \
			--machine="$NAME" --bind="$BUS:/run/dbus" --bind="$REPO:$REPO" --bind="$GOTMP:$GOTMP" --bind-ro="$FALCO_DIR:$FALCO_DIR" \
			</dev/null >"$STATE/nspawn.log" 2>&1
	) &
	local launched=$! i
	echo "$launched" >"$STATE/nspawn.pid"
	for i in $(seq 1 300); do
		if [ "$(system_state)" = 's "running"' ]; then
			log "up: nspawn pid $(nspawn_pid), init pid $(leader_pid) (${i}x0.1 s)"
			return
		fi
		if ! kill -0 "$launched" 2>/dev/null; then # its comm is bash until the exec: test the pid
			cat "$STATE/nspawn.log" >&2 || true
			die "systemd-nspawn exited during boot"
		fi
		sleep 0.1
	done
	die "container not running after 30 s: $(system_state) (log: $STATE/nspawn.log)"
}

down() {
	local n i h
	if n=$(nspawn_pid); then
		kill -TERM "$n" || true
		for i in $(seq 1 100); do
			[ -d "/proc/$n" ] || break
			[ "$i" = 50 ] && kill -TERM "$n" 2>/dev/null # a second SIGTERM ends it at once
			sleep 0.1
		done
	fi
	rm -f "$STATE/nspawn.pid"
	# The container's own cgroups (payload/system.slice/...) go first: a cgroup is removed leaves up.
	for h in systemd unified; do
		[ -d "/sys/fs/cgroup/$h/$NAME" ] &&
			find "/sys/fs/cgroup/$h/$NAME" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	rm -rf /run/systemd/nspawn
	log "down"
}

# The stand-in Falco and rulekeeper itself (with rulekeeperd) are built on the host, where Go
# is, into the bound GOTMPDIR; the container has no Go.
build_standin() {
	(cd "$REPO" && mkdir -p "$GOTMP/bin" && CGO_ENABLED=0 go build -o "$STANDIN" ./internal/testkit/falcostandin &&
		CGO_ENABLED=0 go build -o "$GOTMP/bin/" . ./cmd/rulekeeperd) ||
		die "building the stand-in Falco, rulekeeper or rulekeeperd failed"
}

check_bound() {
	case "$(readlink -f "$1")" in
	"$GOTMP"/* | "$REPO"/*) ;;
	*) die "$1 is not on a path bound into the container: export GOTMPDIR=$GOTMP before go test" ;;
	esac
}

run_exec() {
	[ $# -ge 1 ] || die "exec: missing command"
	check_bound "$1"
	local l
	l=$(leader_pid) || die "the lab is not up: run '$0 up' first"
	build_standin
	[ -x "$FALCO_DIR/0.32.1/falco" ] || die "no real Falco builds in $FALCO_DIR: set RULEKEEPER_FALCO_DIR"
	FALCO_DIR=$(cd "$FALCO_DIR" && pwd)
	[ -x "/proc/$l/root$FALCO_DIR/0.32.1/falco" ] || die "$FALCO_DIR is not bound into the running lab: '$0 down', then '$0 up' with the same RULEKEEPER_FALCO_DIR"
	exec nsenter -t "$l" -a --wd="$PWD" /usr/bin/env RULEKEEPER_LAB=systemd RULEKEEPER_FALCO_DIR="$FALCO_DIR" \
		RULEKEEPER_FALCO_STANDIN="$STANDIN" RULEKEEPER_BIN="$GOTMP/bin/rulekeeper" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

run_sysv() {
	[ $# -ge 1 ] || die "sysv: missing command"
	check_bound "$1"
	[ -f "$MARK" ] || die "no root yet: run '$0 setup' first"
	build_standin
	[ -x "$FALCO_DIR/0.32.1/falco" ] || die "no real Falco builds in $FALCO_DIR: set RULEKEEPER_FALCO_DIR"
	FALCO_DIR=$(cd "$FALCO_DIR" && pwd)
	# No image lock: the booted container holds it, and this one only reads the root through a
	# throw-away overlay.
	SYSTEMD_NSPAWN_LOCK=0 exec systemd-nspawn -q -D "$ROOT" --volatile=overlay --register=no --keep-unit --as-pid2 \
		--bind="$REPO:$REPO" --bind="$GOTMP:$GOTMP" --bind-ro="$FALCO_DIR:$FALCO_DIR" --chdir="$PWD" \
		--setenv=RULEKEEPER_FALCO_DIR="$FALCO_DIR" --setenv=RULEKEEPER_LAB=sysv --setenv=RULEKEEPER_FALCO_STANDIN="$STANDIN" --setenv=RULEKEEPER_BIN="$GOTMP/bin/rulekeeper" "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
setup) setup ;;
up) up ;;
down) down ;;
exec) run_exec "$@" ;;
sysv) run_sysv "$@" ;;
env) mkdir -p "$GOTMP" && echo "$GOTMP" ;;
*) die "usage: $0 setup|up|down|exec CMD...|sysv CMD...|env" ;;
esac
