#!/usr/bin/env bash
# Mutation testing: gremlins (github.com/go-gremlins/gremlins) changes the
# product code one place at a time (a condition negated, a boundary moved,
# an arithmetic operator swapped ...) and runs the package's host tests
# against each mutant. A mutant the tests do not notice "lived": a place
# where the code could break with every test still passing.
#
# Usage: bash scripts/mutation.sh [PKG ...]   (default: the packages below)
# Writes one JSON report per package to $OUT (default dist/mutation) and
# prints each package's test efficacy (killed / (killed + lived)) and
# mutant coverage. The lab tests (build tag lab) are left out: they need
# the booted containers of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
GREMLINS_VERSION=v0.6.0
export GOBIN="${GOBIN:-$PWD/.bin}"
mkdir -p "$GOBIN"
if ! "$GOBIN/gremlins" --version 2>/dev/null | grep -q "${GREMLINS_VERSION#v}"; then
  go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi
out=${OUT:-dist/mutation}
mkdir -p "$out"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./reconcile ./policy ./agent ./agent/daemon ./agent/initsys)
for pkg in "${pkgs[@]}"; do
  name=$(echo "${pkg#./}" | tr / -)
  echo "== $pkg"
  # One worker: the tests of these packages start servers and time things;
  # two mutants at once on two cores make slow tests look like killed ones.
  "$GOBIN/gremlins" unleash --workers 1 --timeout-coefficient 3 \
    --output "$out/$name.json" "$pkg" | tail -n 12
done
