package reconcile

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/policy"
)

// Nothing but the finished file ever appears in a rules folder: an inotify
// watch on rules.d sees exactly one event per write of the override file,
// the file itself (created by link the first time, so that Falco 0.32.1's
// IN_CREATE watch sees it; moved over itself after), and no temporary file.
// The temporary file lives in /etc/falco, which Falco does not load.
func TestTempOutsideRulesFolder(t *testing.T) {
	root := node044(t)
	o := at(root, "0.44.1")
	rd := filepath.Join(root, "etc/falco/rules.d")
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, rd, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE|unix.IN_CLOSE_WRITE); err != nil {
		t.Fatal(err)
	}
	mustApply(t, exam(policy.Override), o)
	if got := inotifyEvents(t, fd); got != "IN_CREATE 50-rulekeeper.yaml" {
		t.Errorf("first write, events in rules.d: %s", got)
	}
	mustApply(t, examWith(policy.Override, func(r *policy.Rule) { r.Output.Prefix = "SHELL!" }), o)
	if got := inotifyEvents(t, fd); got != "IN_MOVED_TO 50-rulekeeper.yaml" {
		t.Errorf("second write, events in rules.d: %s", got)
	}
	noTemps(t, root)
}

func inotifyEvents(t *testing.T, fd int) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Read(fd, buf)
	if err != nil && err != unix.EAGAIN {
		t.Fatal(err)
	}
	var evs []string
	for off := 0; off+unix.SizeofInotifyEvent <= n; {
		mask := binary.NativeEndian.Uint32(buf[off+4:])
		l := int(binary.NativeEndian.Uint32(buf[off+12:]))
		name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+l], "\x00"))
		kind := map[uint32]string{unix.IN_CREATE: "IN_CREATE", unix.IN_MOVED_TO: "IN_MOVED_TO", unix.IN_DELETE: "IN_DELETE", unix.IN_CLOSE_WRITE: "IN_CLOSE_WRITE"}[mask&^unix.IN_ISDIR]
		evs = append(evs, kind+" "+name)
		off += unix.SizeofInotifyEvent + l
	}
	return strings.Join(evs, ", ")
}

// Temporary files a killed pass left (empty ones too) are removed by the
// next pass, converged or not: old-style ones in rules.d, where Falco loads
// them, new-style ones in /etc/falco, the state's in the state directory.
// Other files stay.
func TestStraysSwept(t *testing.T) {
	root := node032(t)
	mustApply(t, exam(policy.InPlace), opts(root))
	strays := []string{
		"/etc/falco/rules.d/.50-rulekeeper.yaml.rulekeeper-1234567",
		"/etc/falco/rules.d/.50-rulekeeper.yaml.rulekeeper-89",
		"/etc/falco/.falco_rules.yaml.rulekeeper-42",
		"/etc/falco/.50-rulekeeper.yaml.rulekeeper-43",
		"/var/lib/rulekeeper/.state.json.rulekeeper-44",
	}
	keep := []string{"/etc/falco/rules.d/.hidden", "/etc/falco/rules.d/x.rulekeeper-5", "/etc/falco/.falco_rules.yaml.swp"}
	for i, s := range append(slices.Clone(strays), keep...) {
		writeNode(t, root, s, bytes.Repeat([]byte("- rule: half"), i%2))
	}
	p := mustPlan(t, exam(policy.InPlace), opts(root))
	if !p.Empty() {
		t.Fatal("not converged")
	}
	res, err := Apply(p)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Swept)
	slices.Sort(strays)
	if !slices.Equal(res.Swept, strays) {
		t.Errorf("swept:\n%s\nwant:\n%s", strings.Join(res.Swept, "\n"), strings.Join(strays, "\n"))
	}
	noTemps(t, root)
	for _, k := range keep {
		if _, err := os.Stat(filepath.Join(root, k)); err != nil {
			t.Errorf("%s was removed", k)
		}
	}
}

// A rules folder that is a mount of its own (here a bind mount: the same
// st_dev, yet rename across it fails) leaves no place for the temporary
// file outside it: one clear error, nothing written.
func TestNoPlaceForTemp(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test bind-mounts a folder and must run as root (the test command runs it so)")
	}
	root := node044(t)
	src := filepath.Join(t.TempDir(), "volume")
	os.Mkdir(src, 0o755)
	rd := filepath.Join(root, "etc/falco/rules.d")
	if out, err := exec.Command("mount", "--bind", src, rd).CombinedOutput(); err != nil {
		t.Fatalf("mount --bind: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", rd).Run() })
	before := snapshot(t, root)
	p := mustPlan(t, exam(policy.Override), at(root, "0.44.1"))
	_, err := Apply(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		ownPath + ": no directory for a temporary file",
		rd + " (the rules folder /etc/falco/rules.d, which Falco loads whole)",
		filepath.Join(root, "etc/falco") + " (another mount)",
		"so that Falco never loads a half-written file",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error:\n%v\ndoes not say:\n%s", err, w)
		}
	}
	sameTree(t, before, snapshot(t, root))
}

// A converged pass sweeps the staging folder of every file rulekeeper
// manages, known from the state: the override file's (the folder above its
// rules folder) where the override strategy edits nothing else there, and
// that of a rules file in a folder of its own.
func TestStraysSweptWhereEachFileStages(t *testing.T) {
	team := policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace, RulesFiles: []string{rulesPath, "/etc/falco/extra/team.yaml"}},
		Rules: []policy.Rule{{Name: "Team rule", Pos: "team.hcl:1,1", Priority: ptr("ERROR")}}}
	for _, tc := range []struct {
		name  string
		d     policy.Desired
		stray string
	}{
		{"override file", exam(policy.Override), "/etc/falco/.50-rulekeeper.yaml.rulekeeper-43"},
		{"rules file in a folder of its own", team, "/etc/falco/extra/.team.yaml.rulekeeper-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, "/etc/falco/extra/team.yaml", []byte(teamRule))
			mustApply(t, tc.d, opts(root))
			writeNode(t, root, tc.stray, []byte("- rule: half"))
			p := mustPlan(t, tc.d, opts(root))
			if !p.Empty() {
				t.Fatalf("not converged: %s", p.Summary())
			}
			res, err := Apply(p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Swept, []string{tc.stray}) {
				t.Fatalf("swept %q, want %q", res.Swept, tc.stray)
			}
		})
	}
}
