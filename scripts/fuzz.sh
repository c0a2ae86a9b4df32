#!/usr/bin/env bash
# Runs each Go fuzz target for FUZZTIME (default 10s; a count such as 1500x
# also works, and is what the test command uses: with a duration, Go 1.26's
# fuzz coordinator can report a spurious "context deadline exceeded" at the
# end on a loaded machine, golang/go#75804): policy decoding, the
# rules-file cut + splice + check, and the falco.yaml reader. The seed corpora
# are under each package's testdata/fuzz/; a failure writes its input there.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
# Interesting inputs are minimised for at most 200 runs: minimising a 64 KB
# falco.yaml seed for the default minute stalls a short run.
for target in ./policy/:FuzzDecode ./reconcile/:FuzzSplice ./reconcile/:FuzzRulesList; do
  pkg=${target%%:*} name=${target##*:}
  echo "== $name ($pkg, $t)"
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$t" -fuzzminimizetime 200x "$pkg"
done
