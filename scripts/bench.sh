#!/usr/bin/env bash
# Speed of the exam's edit on Falco 0.32.1's 136 KB falco_rules.yaml:
# rulekeeper in-process (plan, apply) and as a whole process, beside yq -i
# (mikefarah/yq v4) making the same edit, in one run; then the number of
# lines each leaves changed according to diff(1).
set -euo pipefail
cd "$(dirname "$0")/.."
YQ_VERSION=v4.54.3
export GOBIN="${GOBIN:-$PWD/.bin}"
mkdir -p "$GOBIN"
if ! "$GOBIN/yq" --version 2>/dev/null | grep -q "version $YQ_VERSION" || ldd "$GOBIN/yq" >/dev/null 2>&1; then
  # Static like rulekeeper's packages (CGO_ENABLED=0), so that neither
  # program pays the dynamic loader while the other does not.
  CGO_ENABLED=0 go install "github.com/mikefarah/yq/v4@$YQ_VERSION"
fi
export PATH="$GOBIN:$PATH"
count=${BENCH_COUNT:-100}

# -p 1: one package's benchmarks at a time, or they compete for the CPUs.
go test -p 1 -run '^$' -bench 'Exam|Converged|WriteAtomic' -benchtime "${count}x" -count 1 ./reconcile/ .

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/rulekeeper" .
for tool in rulekeeper yq; do
  cp -r examples/cks-terminal-shell/node "$work/node-$tool"
done
"$work/rulekeeper" apply --policy examples/cks-terminal-shell --root "$work/node-rulekeeper" --falco none >/dev/null
yq -i '(.[] | select(.rule == "Terminal shell in container") | .output) |= "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository " + .' "$work/node-yq/etc/falco/falco_rules.yaml"
orig=examples/cks-terminal-shell/node/etc/falco/falco_rules.yaml
for tool in rulekeeper yq; do
  n=$(diff "$orig" "$work/node-$tool/etc/falco/falco_rules.yaml" | grep -c '^[<>]' || true)
  echo "diff lines changed by $tool: $n"
done
