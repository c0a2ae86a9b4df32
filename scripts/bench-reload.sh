#!/usr/bin/env bash
# Reload timing with the real Falco builds, every figure of README.md's
# reload table in one run: files written → Falco verified, per Falco version
# and reload method, under the lab's booted systemd and under SysV. Boots the
# lab (packaging/lab/systemd-lab.sh) unless it is up, and takes it down again
# if it booted it. BENCH_COUNT passes per figure (default 5), 2 s apart.
# Run as root on Debian, like the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export RULEKEEPER_FALCO_DIR=${RULEKEEPER_FALCO_DIR:-$(cd .. && pwd)/shared/falco}
count=${BENCH_COUNT:-5}
lab=packaging/lab/systemd-lab.sh

out=$(mktemp)
booted=0
trap 'rm -f "$out"; if [ "$booted" = 1 ]; then bash "$lab" down; fi' EXIT
msg=$(bash "$lab" up 2>&1) || { echo "$msg" >&2; exit 1; }
echo "$msg" >&2
case $msg in *"already up"*) ;; *) booted=1 ;; esac
GOTMPDIR=$(bash "$lab" env)
export GOTMPDIR

go test -tags lab -exec "$PWD/$lab exec" -run '^$' -bench '^BenchmarkLabSystemd$' -benchtime "${count}x" ./agent/initsys/ | tee -a "$out"
go test -tags lab -exec "$PWD/$lab sysv" -run '^$' -bench '^BenchmarkLabSysV$' -benchtime "${count}x" ./agent/initsys/ | tee -a "$out"

# The table: one row per version, mean seconds per pass (— where a method
# does not apply to that version).
awk -v n="$count" '
  /^BenchmarkLab(Systemd|SysV)\// {
    split($1, p, "/"); sub(/-[0-9]+$/, "", p[2])
    split(p[2], vm, "-"); key = p[1] "/" vm[2]
    t[vm[1], key] = sprintf("%.2f s", $3 / 1e9)
  }
  END {
    split("BenchmarkLabSystemd/restart BenchmarkLabSystemd/reload BenchmarkLabSystemd/watch BenchmarkLabSysV/restart BenchmarkLabSysV/reload BenchmarkLabSysV/signal BenchmarkLabSysV/watch", cols, " ")
    print ""
    print "mean of " n " passes, files written → Falco verified:"
    print "| Falco | systemd restart | systemd reload | own watch (systemd) | SysV restart | SysV reload (script) | SIGHUP (SysV) | own watch (SysV) |"
    print "|---|---|---|---|---|---|---|---|"
    split("0.32.1 0.40.0", vs, " ")
    for (i = 1; i <= 2; i++) {
      line = "| " vs[i]
      for (j = 1; j <= 7; j++) line = line " | " ((vs[i], cols[j]) in t ? t[vs[i], cols[j]] : "—")
      print line " |"
    }
  }' "$out"
