#!/usr/bin/env bash
# The project's test command (README.md, "Tests"): installs what the tests
# need, checks formatting and vet, runs every test on the host, then boots a
# real systemd container and a SysV one and runs the init-system tests there.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# git: test repositories, git daemon, git http-backend; openssh-server: sshd
# for the SSH source tests; diffutils: diff(1) in the surgical-edit tests;
# systemd: journald and systemd-analyze; util-linux, procps: the lab; dpkg,
# lintian, rpm: inspecting the built packages; prometheus: promtool checks and
# unit-tests the alert rules, and the rollout gate's tests scrape the agents
# with a real Prometheus.
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  git openssh-server diffutils systemd util-linux procps ca-certificates \
  dpkg lintian rpm prometheus >/dev/null

# The real Falco builds (0.32.1, 0.40.0, 0.44.1) the real-Falco tier runs,
# and the Debian packages they link against. Any folder laid out the same
# way works (see README.md, "Tests").
export RULEKEEPER_FALCO_DIR=${RULEKEEPER_FALCO_DIR:-$(cd .. && pwd)/shared/falco}
if [ ! -x "$RULEKEEPER_FALCO_DIR/0.32.1/falco" ]; then
  echo "no real Falco builds in $RULEKEEPER_FALCO_DIR: set RULEKEEPER_FALCO_DIR to a folder with 0.32.1/falco, 0.40.0/falco and 0.44.1/falco" >&2
  exit 1
fi
apt-get install -y -qq --no-install-recommends \
  libgrpc++1.51 libprotobuf32 libc-ares2 libcurl4 libelf1 libtbb12 libre2-9 \
  libssl3 libjq1 libjsoncpp25 >/dev/null

go mod download
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
# Build tags: realfalco marks the tests that run the real Falco builds
# (RULEKEEPER_FALCO_DIR), prometheus the slow ones against a real
# Prometheus, lab those that run inside the containers below.
go vet -tags realfalco,prometheus,lab ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags realfalco,prometheus,lab ./...
# Direct dependencies in their own require block, nothing missing or extra.
if ! go mod tidy -diff; then
  echo "go.mod/go.sum are not tidy: run go mod tidy" >&2
  exit 1
fi

# Everything that runs on the host, the real-Falco tier included. The
# init-system tests run on their own, in a PID namespace of their own (a
# fresh /proc): they look for falco processes there, and must find only
# their own, not the real and stand-in Falcos of other tests or programs.
# reconcile's real-Falco tests start a few hundred Falcos: minutes on a
# busy machine, past go test's default 10 minutes per package.
go test -count=1 -timeout 40m -tags realfalco,prometheus $(go list ./... | grep -v '/agent/initsys$')
unshare --pid --fork --mount-proc go test -count=1 -tags realfalco ./agent/initsys/
# Each fuzz target a few seconds beyond its seed corpus (longer:
# FUZZTIME=10m bash scripts/fuzz.sh). A count, not a duration: Go 1.26's
# fuzz coordinator can fail a target with "context deadline exceeded" when a
# duration runs out on a loaded machine (golang/go#75804, fixed in 1.27).
FUZZTIME=1500x bash scripts/fuzz.sh

# A real systemd booted with systemd-nspawn, and a SysV machine (Debian's
# real `service`) as a one-shot container on the same root.
bash packaging/lab/systemd-lab.sh up
trap 'bash packaging/lab/systemd-lab.sh down' EXIT
GOTMPDIR=$(bash packaging/lab/systemd-lab.sh env)
export GOTMPDIR
go test -count=1 -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh exec" -run '^TestLab' -skip '^TestLabSysV' ./agent/initsys/
go test -count=1 -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh sysv" -run '^TestLabSysV' ./agent/initsys/
# rulekeeper apply against Falco under the real systemd: reload, verify, roll back.
go test -count=1 -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh exec" -run '^TestLab' ./agent/
# The packages: install, upgrade, remove and purge on both init systems.
go run ./packaging --out dist/packages --version 0.1.0
go run ./packaging --out dist/packages --version 0.2.0
go test -count=1 -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh exec" -run '^TestLabSystemd' ./packaging/
go test -count=1 -tags lab -exec "$PWD/packaging/lab/systemd-lab.sh sysv" -run '^TestLabSysV' ./packaging/
