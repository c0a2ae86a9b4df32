package initsys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// isFalco reports whether pid is a live Falco process: its comm or executable is named falco. A
// zombie does not count: it is dead, only not yet reaped.
func isFalco(pid int) bool {
	if pid <= 0 {
		return false
	}
	dir := "/proc/" + strconv.Itoa(pid)
	if stat, err := os.ReadFile(dir + "/stat"); err != nil || procState(stat) == 'Z' || procState(stat) == 'X' {
		return false
	}
	if comm, err := os.ReadFile(dir + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "falco" {
		return true
	}
	exe, err := os.Readlink(dir + "/exe")
	return err == nil && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "falco"
}

// procState is the state letter of /proc/PID/stat; the comm before it may hold spaces and ')'.
func procState(stat []byte) byte {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}

// readPidFile returns the pid in path, or an error saying why it cannot be used.
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s does not hold a pid: %q", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// errNoFalco: neither the pid file nor /proc shows a running Falco.
var errNoFalco = errors.New("no running falco process")

// findFalco returns Falco's pid from the pid file when it names a live Falco, else from a /proc
// scan. note says why the pid file was not used (missing, stale), for the detection report.
func findFalco(pidFile string) (pid int, note string, err error) {
	p, perr := readPidFile(pidFile)
	switch {
	case perr == nil && isFalco(p):
		return p, "pid file " + pidFile, nil
	case perr == nil:
		note = fmt.Sprintf("pid file %s is stale (pid %d is not falco)", pidFile, p)
	case errors.Is(perr, os.ErrNotExist):
		note = "no pid file " + pidFile
	default:
		note = perr.Error()
	}
	pids := scanFalco()
	if len(pids) == 0 {
		return 0, note, errNoFalco
	}
	return pids[0], note + "; found in /proc", nil
}

// scanFalco lists live falco processes, lowest pid first.
func scanFalco() []int {
	des, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, d := range des {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == os.Getpid() || !isFalco(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && procState(stat) != 'Z' && procState(stat) != 'X'
}
