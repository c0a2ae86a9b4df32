package fleetsim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroup is a control group the server's processes are started in, so that
// its CPU counts every process it starts however short-lived: fcgiwrap
// ignores SIGCHLD, so the git http-backend it starts per request is reaped
// by the kernel and never reaches a parent's cutime.
type cgroup struct {
	dir string
	v2  bool
}

// newCgroup makes a control group under the cgroup v1 cpuacct hierarchy or
// the cgroup v2 one (root only); nil when neither can be made, and the
// server's CPU is then read from its process tree.
func newCgroup(name string) *cgroup {
	for _, c := range []cgroup{{dir: "/sys/fs/cgroup/cpuacct"}, {dir: "/sys/fs/cgroup/unified", v2: true}, {dir: "/sys/fs/cgroup", v2: true}} {
		probe := "cpuacct.usage"
		if c.v2 {
			probe = "cgroup.controllers"
		}
		if _, err := os.Stat(filepath.Join(c.dir, probe)); err != nil {
			continue
		}
		c.dir = filepath.Join(c.dir, fmt.Sprintf("rulekeeper-fleetsim-%d-%s", os.Getpid(), name))
		if err := os.Mkdir(c.dir, 0o755); err != nil {
			continue
		}
		if c.usage() < 0 {
			os.Remove(c.dir)
			continue
		}
		return &c
	}
	return nil
}

// procs is the file a process writes its pid into to join.
func (c *cgroup) procs() string { return filepath.Join(c.dir, "cgroup.procs") }

// usage is the group's CPU in nanoseconds; -1 when it cannot be read.
func (c *cgroup) usage() int64 {
	if c.v2 {
		b, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat"))
		if err != nil {
			return -1
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return -1
				}
				return n * 1000
			}
		}
		return -1
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "cpuacct.usage"))
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// remove deletes the group once its processes are gone.
func (c *cgroup) remove() { _ = os.Remove(c.dir) }
