#!/usr/bin/env bash
# Draws the README's pictures of the Grafana dashboard (docs/fleet-*.png)
# from a real run: TestDashboardQueries starts six agents and a real
# Prometheus (Debian's prometheus package), plays the fleet's story, runs
# every panel's query and, with RULEKEEPER_PICTURES set, plots the answers
# of the fleet-by-commit and convergence panels. It prints the
# `rulekeeper fleet` table of a run too, for the README's example.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs}
mkdir -p "$out"
RULEKEEPER_PICTURES=$(cd "$out" && pwd) go test -count=1 -v -run '^TestDashboardQueries$' ./packaging/grafana/ | grep -E 'wrote|^(ok|FAIL|---)'
go test -count=1 -v -run '^TestFleetView$/^table$' ./fleet/ | sed -n '/rulekeeper fleet:/,/^ *--- /p' | sed '$d'
