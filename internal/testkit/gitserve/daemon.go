package gitserve

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
)

// Daemon is a real `git daemon` serving a folder on a fixed port; it can be stopped and started
// again on the same port, as a server that goes down and comes back.
type Daemon struct {
	t    testing.TB
	root string
	Port int
	cmd  *exec.Cmd
	out  *Buffer
}

// StartDaemon serves root's repositories (git://127.0.0.1:PORT/NAME) until the test ends.
func StartDaemon(t testing.TB, root string) *Daemon {
	t.Helper()
	d := &Daemon{t: t, root: root, Port: FreePort(t)}
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

// URL is the git:// URL of a repository under the root.
func (d *Daemon) URL(repo string) string {
	return fmt.Sprintf("git://127.0.0.1:%d/%s", d.Port, repo)
}

// Start starts the server (again) and waits until it listens.
func (d *Daemon) Start() {
	d.t.Helper()
	Need(d.t, "git", "git")
	d.out = &Buffer{}
	d.cmd = exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", d.Port), "--base-path="+d.root, d.root)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	// Its own process group: git daemon forks a child per connection, all stopped together.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start git daemon: %v", err)
	}
	WaitListening(d.t, d.Port, d.out)
}

// Stop kills the server and its children; connecting then fails with "connection refused".
func (d *Daemon) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	_ = d.cmd.Wait()
	d.cmd = nil
}
