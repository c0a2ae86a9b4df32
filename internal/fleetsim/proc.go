package fleetsim

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// ticksPerSecond is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux build this runs on (sysconf(_SC_CLK_TCK)).
const ticksPerSecond = 100

// procStat is what one /proc/PID/stat line tells about a process.
type procStat struct {
	ppid int
	// cpu is utime+stime+cutime+cstime in ticks: the process's own time
	// and that of every child it has reaped, so that a tree's total moves
	// from child to parent without a loss when a child exits.
	cpu int64
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name is in parentheses and may hold spaces: the fields
	// after it are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return procStat{}, false
	}
	st := procStat{}
	st.ppid, _ = strconv.Atoi(f[1])
	for _, k := range f[11:15] {
		n, _ := strconv.ParseInt(k, 10, 64)
		st.cpu += n
	}
	return st, true
}

// treeCPU sums the CPU ticks of the processes roots and all their
// descendants alive now (and, through cutime, those they reaped).
func treeCPU(roots []int) int64 {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	stats := map[int]procStat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			stats[pid] = st
		}
	}
	in := map[int]bool{}
	for _, r := range roots {
		in[r] = true
	}
	var total int64
	for pid, st := range stats {
		// Walk up to a root; process trees here are a few levels deep.
		for p, hops := pid, 0; p > 1 && hops < 32; p, hops = stats[p].ppid, hops+1 {
			if in[p] {
				total += st.cpu
				break
			}
			if _, ok := stats[p]; !ok {
				break
			}
		}
	}
	return total
}

// ownCPU is one process's utime+stime+cutime+cstime in ticks.
func ownCPU(pid int) int64 {
	st, _ := readStat(pid)
	return st.cpu
}

// rssBytes is a process's resident set (VmRSS), 0 when it is gone.
func rssBytes(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
