#!/usr/bin/env bash
# A measured fleet: 1,000 agents (the daemon's code, 500 to a process, each
# with its own hostname, clone, state and sandbox node) and 50 real
# rulekeeperd processes poll one policy repository on 127.0.0.1, with a
# rollout of three waves; each run writes dist/fleet/NAME.json, and the
# script then draws docs/fleetsim-convergence.png (of the runs that got as
# far as their rollout) and prints the summary tables of README.md's
# "Scale, measured". Runs, by name (FLEET_RUNS):
#   http-nosplay  smart HTTP (nginx + fcgiwrap + git http-backend), no splay
#   http          the same with splay
#   git-daemon    git daemon, with splay
#   http-cache    smart HTTP with nginx keeping the ref advertisement 5 s, as
#                 packaging/nginx/rulekeeper-git.conf (which every HTTP run serves with)
#   http-cache-nosplay  the same without splay
#   (git-daemon-nosplay too, not run by default)
# The agents start at random times within two minutes (FLEET_SPREAD), as
# the polls of a fleet that has run a while are spread: their first passes
# clone, which costs the server about three no-change polls each, and a
# thousand of them within 30 s overload the 2-core test machine (502s from
# nginx, then backoff); FLEET_SPREAD=0s starts them at once, as after a
# fleet-wide restart. About 8 minutes a run at the default timing; a run
# that fails still writes its figures and the script goes on. Run as root on Debian (it installs nginx and
# fcgiwrap, and raises fs.inotify.max_user_instances).
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${FLEET_AGENTS:-1000}
procs=${FLEET_RULEKEEPERD:-50}
interval=${FLEET_INTERVAL:-30s}
splay=${FLEET_SPLAY:-30s}
spread=${FLEET_SPREAD:-2m}
delay=${FLEET_DELAY:-60s}
waves=${FLEET_WAVES:-3}
runs=${FLEET_RUNS:-"http-nosplay http git-daemon http-cache http-cache-nosplay"}
work=${FLEET_WORK:-/tmp/rulekeeper-fleet}

missing=()
for p in git nginx fcgiwrap; do command -v "$p" >/dev/null || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git nginx-light fcgiwrap >/dev/null
fi
# Debian's nginx package starts a system nginx on port 80; the runs start
# their own, on a free port of 127.0.0.1.

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -o "$bin/" ./cmd/rulekeeperd ./scripts/fleetsim

# Each agent holds an inotify instance (its drift watch); the default
# limit of 128 per user stops a fleet of more. The script raises it and
# leaves it raised: setting it back at the end would break whatever else
# runs on the machine under the raised value.
need=$((agents + procs + 1024))
if [ "$(sysctl -n fs.inotify.max_user_instances)" -lt "$need" ]; then
  sysctl -qw fs.inotify.max_user_instances="$need"
fi
ulimit -n $((agents * 8 + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p dist/fleet docs
results=()
for run in $runs; do
  s=$splay
  case $run in
    http-nosplay) server=http s=0s ;;
    http) server=http ;;
    git-daemon) server=git-daemon ;;
    git-daemon-nosplay) server=git-daemon s=0s ;;
    http-cache) server=http-cache ;;
    http-cache-nosplay) server=http-cache s=0s ;;
    *) echo "unknown run $run" >&2; exit 1 ;;
  esac
  "$bin/fleetsim" run -name "$run" -dir "$work/$run" -server "$server" -agents "$agents" -agent-procs 2 \
    -rulekeeperd-procs "$procs" -rulekeeperd "$bin/rulekeeperd" -interval "$interval" -splay "$s" -spread "$spread" \
    -waves "$waves" -delay "$delay" -out "dist/fleet/$run.json" && rm -rf "${work:?}/$run" ||
    echo "run $run failed (its figures so far: dist/fleet/$run.json; its files: $work/$run)" >&2
  [ -f "dist/fleet/$run.json" ] && results+=("dist/fleet/$run.json")
done
"$bin/fleetsim" plot -out docs/fleetsim-convergence.png "${results[@]}"
"$bin/fleetsim" summary "${results[@]}"
