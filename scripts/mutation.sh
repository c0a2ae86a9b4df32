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
#
# MUTATION_EXCLUDE: more files to leave out, as space-separated regular
# expressions over the file names gremlins prints (e.g. "^(reconcile/)?diff\.go$"):
# a run over a few files of a large package, where a whole run takes hours.
set -euo pipefail
cd "$(dirname "$0")/.."
GREMLINS_VERSION=v0.6.0
export GOBIN="${GOBIN:-$PWD/.bin}"
mkdir -p "$GOBIN"
if ! "$GOBIN/gremlins" --version 2>/dev/null | grep -q "${GREMLINS_VERSION#v}"; then
  go install "github.com/go-gremlins/gremlins/cmd/gremlins@$GREMLINS_VERSION"
fi
out=$(realpath -m "${OUT:-dist/mutation}")
mkdir -p "$out"
repo=$PWD
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./reconcile ./policy ./agent ./agent/daemon ./agent/initsys)
for pkg in "${pkgs[@]}"; do
  name=$(echo "${pkg#./}" | tr / -)
  echo "== $pkg"
  # gremlins mutates, and gathers coverage over, PKG and every package
  # below it. A package's figure is its own code against its own tests:
  # the packages below are left out of the mutants (-E), and gremlins runs
  # on a copy of the module without their tests, which have runs of their
  # own (and, for agent/initsys, must not run beside other Falcos).
  dir=$repo
  exclude=()
  read -ra extra <<< "${MUTATION_EXCLUDE:-}" # split on spaces, no globbing
  for e in "${extra[@]}"; do
    exclude+=(-E "$e")
  done
  subs=$(go list "$pkg/..." | grep -vx "$(go list "$pkg")" || true)
  if [ -n "$subs" ]; then
    dir=$(mktemp -d)
    git -C "$repo" ls-files -z --cached --others --exclude-standard | (cd "$repo" && xargs -0 cp --parents -t "$dir" 2>/dev/null || true)
    for sub in $subs; do
      rel=${sub#"$(go list -m)"/}
      find "$dir/$rel" -maxdepth 1 -name '*_test.go' -delete
      # gremlins names files from PKG's folder ("alert/alert.go"), or from the module's.
      exclude+=(-E "^(${pkg#./}/)?${rel#"${pkg#./}"/}/")
    done
  fi
  # One worker: the tests of these packages start servers and time things;
  # two mutants at once on two cores make slow tests look like killed ones.
  # In a PID namespace of its own (a fresh /proc), the tests see only their
  # own processes: agent/initsys looks for falco in /proc, and must not find
  # another program's (a test elsewhere on the machine) and fail for that.
  (cd "$dir" && unshare --pid --fork --mount-proc "$GOBIN/gremlins" unleash --workers 1 --timeout-coefficient 3 "${exclude[@]}" \
    --output "$out/$name.json" "$pkg" | tee "$out/$name.log" | grep -E '^ *(LIVED|TIMED OUT|NOT VIABLE)|^Mutator|^Killed|^Timed|^Not|^Mutant|^Test efficacy|^Mutant coverage' || true)
  [ "$dir" = "$repo" ] || rm -rf "$dir"
done
