//go:build realfalco

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
)

// The stand-in against the real Falco 0.32.1 and 0.40.0 on the same inputs:
// what `-V` accepts, refuses and prints, which files of a rules folder a
// running Falco loads and what it logs, and what a reload does (SIGHUP, a
// file appearing in the folder, an invalid file). Where they overlap, the
// stand-in must do what the real one does.

// compared are the versions whose behaviour the stand-in copies.
var compared = []string{"0.32.1", "0.40.0"}

// upstreamConfig is the upstream falco.yaml of the version.
func upstreamConfig(t *testing.T, version string) []byte {
	t.Helper()
	b, err := os.ReadFile(upstreamRules + "falco-" + version + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validateNorm keeps what the two must agree on in `-V`'s report: the
// verdict per file and the message, not the parser's own wording of a YAML
// error nor the warnings and context lines of the newer loader.
func validateNorm(version, out string) string {
	out = regexp.MustCompile(`(yaml-cpp|yaml): .*`).ReplaceAllString(out, "YAML-ERROR")
	out = strings.ReplaceAll(out, ": Ok, with warnings", ": Ok")
	if version == "0.32.1" {
		return out
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasSuffix(l, ": Ok") || strings.HasSuffix(l, ": Invalid") || strings.HasPrefix(l, "LOAD_ERR_") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestRealFalcoStandinValidate(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"good.yaml":       goodRule,
		"uidd.yaml":       strings.Replace(goodRule, "%user.uid", "%user.uidd", 1),
		"badfield.yaml":   strings.Replace(goodRule, "%user.uid", "%usr.uid", 1),
		"notyaml.yaml":    "- rule: [unclosed\n",
		"missing.yaml":    "- rule: X\n  desc: d\n",
		"priority.yaml":   strings.Replace(goodRule, "NOTICE", "LOUD", 1),
		"override.yaml":   "- rule: Shell\n  output: \"NEW SHELL!!! %proc.name\"\n  override:\n    output: replace\n",
		"defoverkey.yaml": strings.TrimSuffix(goodRule, "\n") + "\n  override:\n    output: replace\n",
		"append.yaml":     "- rule: Shell\n  output: x\n  append: true\n",
		"unknown.yaml":    "- foo: bar\n",
		"comments.yaml":   "# only comments\n",
		"folded.yaml": "- rule: Folded\n  desc: d\n  condition: proc.name = bash\n  output: >\n" +
			"    NEW SHELL!!! user_id=%user.uid\n    (user=%user.name %container.info)\n  priority: WARNING\n",
	}
	for name, text := range files {
		write(t, filepath.Join(dir, name), text)
	}
	cases := [][]string{
		{"good.yaml"}, {"good.yaml", "good.yaml"}, {"uidd.yaml"}, {"badfield.yaml"}, {"notyaml.yaml"},
		{"missing.yaml"}, {"priority.yaml"}, {"good.yaml", "override.yaml"}, {"defoverkey.yaml"},
		{"good.yaml", "append.yaml"}, {"unknown.yaml"}, {"comments.yaml"}, {"folded.yaml"},
		{"good.yaml", "badfield.yaml", "good.yaml"},
	}
	for _, v := range compared {
		bin := realfalco.Binary(t, v)
		cfg := filepath.Join(dir, "falco-"+v+".yaml")
		write(t, cfg, string(upstreamConfig(t, v)))
		upstream := map[string]string{"0.32.1": "falco_rules-0.32.1.yaml", "0.40.0": "falco_rules-3.2.0.yaml"}[v]
		all := append(cases, []string{upstreamRules + upstream})
		for _, c := range all {
			var names []string
			for _, f := range c {
				names = append(names, filepath.Base(f))
			}
			t.Run(v+"/"+strings.Join(names, "+"), func(t *testing.T) {
				args := []string{"-c", cfg}
				for _, f := range c {
					if !strings.HasPrefix(f, "../") {
						f = filepath.Join(dir, f)
					}
					args = append(args, "-V", f)
				}
				rOut, rErr, rCode := realfalco.Run(t, bin, args...)
				sOut, sErr, sCode := runStandin(t, []string{"FALCO_STANDIN_VERSION=" + v}, args...)
				if rCode != sCode {
					t.Fatalf("exit: real Falco %s %d, stand-in %d\nreal:\n%s%s\nstand-in:\n%s%s", v, rCode, sCode, rOut, rErr, sOut, sErr)
				}
				if r, s := validateNorm(v, rOut), validateNorm(v, sOut); r != s {
					t.Fatalf("-V reports differ (normalised)\nreal Falco %s:\n%s\nstand-in:\n%s", v, r, s)
				}
				if rCode != 0 && !strings.Contains(sErr, "Error: ") {
					t.Errorf("the stand-in's stderr lacks Falco's \"Error: \" line:\n%s", sErr)
				}
			})
		}
	}
}

// falcoProc is a running Falco, real or stand-in, its output in a file.
type falcoProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startFalco(t *testing.T, name, log string, env []string, bin string, args ...string) *falcoProc {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &falcoProc{name: name, log: log, done: make(chan struct{}), cmd: exec.Command(bin, args...)}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *falcoProc) text() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitFor waits until the output holds text n times; the real Falco may be
// slow to start on a loaded machine.
func (p *falcoProc) waitFor(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(p.text(), text) >= n {
			return
		}
		select {
		case <-p.done:
			if strings.Count(p.text(), text) >= n {
				return
			}
			t.Fatalf("%s exited (%v) before printing %q %d times:\n%s", p.name, p.cmd.ProcessState, text, n, p.text())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not print %q %d times within 30 s:\n%s", p.name, text, n, p.text())
}

func (p *falcoProc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit within 30 s:\n%s", p.name, p.text())
		return -1
	}
}

func (p *falcoProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// loadedFiles lists, per load, the rules files the output says were loaded
// (0.32.1: `Loading rules from file F:`; newer: `   F | schema validation: …`
// after `Loading rules from:`), keeping those under dir.
func loadedFiles(out, dir string) [][]string {
	var loads [][]string
	inList := false
	for _, l := range strings.Split(out, "\n") {
		_, msg, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(msg, "Loading rules from file "):
			f := strings.TrimSuffix(strings.TrimPrefix(msg, "Loading rules from file "), ":")
			if len(loads) == 0 || strings.HasSuffix(f, "falco_rules.yaml") {
				loads = append(loads, nil)
			}
			loads[len(loads)-1] = append(loads[len(loads)-1], strings.TrimPrefix(f, dir+"/"))
		case msg == "Loading rules from:":
			loads, inList = append(loads, nil), true
		case inList && strings.HasPrefix(msg, "   ") && strings.Contains(msg, " | schema validation: "):
			f, _, _ := strings.Cut(strings.TrimSpace(msg), " | ")
			loads[len(loads)-1] = append(loads[len(loads)-1], strings.TrimPrefix(f, dir+"/"))
		case strings.Contains(msg, "configuration file"): // the config's own `| schema validation` line follows
			inList = false
		}
	}
	return loads
}

// folderNode lays out a config and rules for one Falco: falco_rules.yaml and
// a rules.d holding a dot-file, a .yml, a .txt and an editor backup.
func folderNode(t *testing.T, version string, port int) (dir, cfg string) {
	dir = t.TempDir()
	write(t, filepath.Join(dir, "falco_rules.yaml"), goodRule)
	for name, list := range map[string]string{".hidden": "hidden_list", "a.yaml": "a_list", "b.yml": "b_list", "c.txt": "c_list", "d.yaml~": "d_list"} {
		write(t, filepath.Join(dir, "rules.d", name), fmt.Sprintf("- list: %s\n  items: [a]\n", list))
	}
	c := string(upstreamConfig(t, version))
	for _, r := range [][2]string{
		{"  - /etc/falco/falco_rules.yaml\n", "  - " + dir + "/falco_rules.yaml\n"},
		{"  - /etc/falco/falco_rules.local.yaml\n", "  - " + dir + "/falco_rules.local.yaml\n"},
		{"  - /etc/falco/rules.d\n", "  - " + dir + "/rules.d\n"},
		{"listen_port: 8765\n", fmt.Sprintf("listen_port: %d\n", port)},
	} {
		if !strings.Contains(c, r[0]) {
			t.Fatalf("the upstream %s falco.yaml has no %q", version, r[0])
		}
		c = strings.Replace(c, r[0], r[1], 1)
	}
	cfg = filepath.Join(dir, "falco.yaml")
	write(t, cfg, c)
	return dir, cfg
}

// TestRealFalcoStandinRunning runs the stand-in and the real Falco side by
// side on the same layout and compares what they load and how they reload.
func TestRealFalcoStandinRunning(t *testing.T) {
	for _, v := range compared {
		t.Run(v, func(t *testing.T) {
			bin := realfalco.Binary(t, v)
			port := freePort(t)
			rdir, rcfg := folderNode(t, v, port)
			sdir, scfg := folderNode(t, v, freePort(t))
			args := realfalco.Service(t, v, rcfg, rdir, port)
			rf := startFalco(t, "real Falco "+v, filepath.Join(rdir, "out"), nil, bin, args...)
			stand := startFalco(t, "stand-in "+v, filepath.Join(sdir, "out"), []string{"FALCO_STANDIN_VERSION=" + v}, standin, "-c", scfg)
			both := []*falcoProc{rf, stand}
			for _, p := range both {
				p.waitFor(t, "listening on", 1) // the web server starts once the rules are loaded
			}
			rl, sl := loadedFiles(rf.text(), rdir), loadedFiles(stand.text(), sdir)
			if len(rl) == 0 || len(sl) == 0 || strings.Join(rl[len(rl)-1], " ") != strings.Join(sl[len(sl)-1], " ") {
				t.Fatalf("loaded files differ\nreal Falco %s: %q\nstand-in: %q\nreal output:\n%s\nstand-in output:\n%s", v, rl, sl, rf.text(), stand.text())
			}
			// Up to 0.40 every regular file of the folder, dot-files included.
			if got := strings.Join(rl[len(rl)-1], " "); got != "falco_rules.yaml rules.d/.hidden rules.d/a.yaml rules.d/b.yml rules.d/c.txt rules.d/d.yaml~" {
				t.Errorf("real Falco %s loaded %s", v, got)
			}

			// SIGHUP: both restart and load the same files again.
			for _, p := range both {
				p.cmd.Process.Signal(syscall.SIGHUP)
			}
			for _, p := range both {
				p.waitFor(t, "SIGHUP received, restarting...", 1)
				p.waitFor(t, "listening on", 2)
			}
			if rl, sl = loadedFiles(rf.text(), rdir), loadedFiles(stand.text(), sdir); strings.Join(rl[len(rl)-1], " ") != strings.Join(sl[len(sl)-1], " ") {
				t.Fatalf("after SIGHUP, loaded files differ\nreal Falco %s: %q\nstand-in: %q", v, rl, sl)
			}

			// A half-written dot-file appears in the folder: their own file
			// watch loads it. 0.32.1 exits on it; newer Falco keeps running the
			// old rules.
			for _, d := range []string{rdir, sdir} {
				write(t, filepath.Join(d, "rules.d", ".rulekeeper-tmp"), "- rule: [\n")
			}
			for _, p := range both {
				if v == "0.32.1" {
					if code := p.waitExit(t); code != 1 {
						t.Errorf("%s exited %d on an invalid file in rules.d, want 1", p.name, code)
					}
					p.waitFor(t, "Error: Could not load rules file ", 1)
					p.waitFor(t, "rules.d/.rulekeeper-tmp: 1 errors:", 1)
					continue
				}
				p.waitFor(t, "rules.d/.rulekeeper-tmp | schema validation: ", 1)
				time.Sleep(time.Second)
				if !p.running() {
					t.Fatalf("%s stopped on an invalid file; Falco %s keeps the old rules:\n%s", p.name, v, p.text())
				}
				// Falco prints the failure as an alert on stdout, flushed when it stops.
				p.cmd.Process.Signal(syscall.SIGTERM)
				if code := p.waitExit(t); code != 0 {
					t.Errorf("%s exited %d on SIGTERM", p.name, code)
				}
				for _, want := range []string{"Critical Falco internal: hot restart failure: ", "rules.d/.rulekeeper-tmp: Invalid"} {
					if !strings.Contains(p.text(), want) {
						t.Errorf("%s did not print %q:\n%s", p.name, want, p.text())
					}
				}
			}
		})
	}
}
