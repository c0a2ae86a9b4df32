package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rulekeeper/rulekeeper/internal/atomicfile"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
	"github.com/rulekeeper/rulekeeper/reconcile"
)

// crashKills is how many runs of `rulekeeper apply` the crash test kills
// while they run (runs that finished before the kill landed do not count).
const crashKills = 500

// SIGKILL at random moments of `rulekeeper apply`, over both strategies:
// after every kill each rules file is whole (the old or the new bytes of a
// known set), nothing but finished rules files ever appears in the rules
// folder (an inotify watch sees every name made there, and a sampler reads
// what is there while the process runs), and the state reads. At the end
// one pass converges and no temporary file is left anywhere.
func TestCrashSafety(t *testing.T) {
	bin := testbuild.Programs(t)
	policies := crashPolicies(t)

	// The known contents, from runs that were not killed: each policy
	// applied after each other one.
	calib := sandbox(t)
	known := map[string]map[string]bool{}
	record := func() {
		for _, f := range []string{rulesFile, localFile, ownFile} {
			if known[f] == nil {
				known[f] = map[string]bool{}
			}
			b, err := os.ReadFile(filepath.Join(calib, f))
			if errors.Is(err, fs.ErrNotExist) {
				known[f]["<absent>"] = true
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			known[f][string(b)] = true
		}
	}
	record()
	var took []time.Duration
	for i := range 2 * len(policies) {
		start := time.Now()
		if out, err := exec.Command(bin, crashArgs(policies[i%len(policies)], calib)...).CombinedOutput(); err != nil {
			t.Fatalf("calibration run %d: %v\n%s", i, err, out)
		}
		took = append(took, time.Since(start))
		record()
	}
	if len(known[rulesFile]) != 3 || len(known[ownFile]) != 3 || len(known[localFile]) != 1 {
		t.Fatalf("want 3 contents of %s (vendor, two edits), 3 of %s (none, two), 1 of %s; got %d, %d, %d",
			rulesFile, ownFile, localFile, len(known[rulesFile]), len(known[ownFile]), len(known[localFile]))
	}
	slices.Sort(took)
	// Kills land anywhere from the start to the end of a run. How long a
	// run takes moves with the machine's load: the estimate follows the
	// runs that finished before their kill.
	est := took[len(took)/2]

	root := sandbox(t)
	rulesD := filepath.Join(root, "etc/falco/rules.d")
	names := watchNames(t, rulesD)
	rng := rand.New(rand.NewPCG(1, 2))
	kills, runs := 0, 0
	var bad []string
	for kills < crashKills && runs < 20*crashKills {
		cmd := exec.Command(bin, crashArgs(policies[runs%len(policies)], root)...)
		runs++
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var sampled []string
		var wg sync.WaitGroup
		wg.Go(func() { sampled = sampleFolder(rulesD, known[ownFile], stop) })
		time.Sleep(time.Duration(rng.Int64N(int64(est * 5 / 4)))) // a few runs finish: the last steps are hit too
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		took := time.Since(start)
		close(stop)
		wg.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			kills++
		} else if err != nil {
			t.Fatalf("run %d was not killed and failed: %v", runs, err)
		} else {
			est = (4*est + took) / 5
		}
		bad = append(bad, sampled...)
		bad = append(bad, wholeFiles(root, known)...)
		if _, err := reconcile.LoadState(filepath.Join(root, "var/lib/rulekeeper")); err != nil {
			bad = append(bad, fmt.Sprintf("after run %d the state does not read: %v", runs, err))
		}
		if len(bad) > 0 {
			t.Fatalf("after run %d (%d killed):\n%s", runs, kills, strings.Join(bad, "\n"))
		}
	}
	if kills < crashKills {
		t.Fatalf("only %d of %d runs were killed while running", kills, runs)
	}
	for _, n := range names() {
		if n != "50-rulekeeper.yaml" {
			t.Errorf("%s appeared in the rules folder", n)
		}
	}

	// The next pass converges, the one after changes nothing, no
	// temporary file is left anywhere.
	last := policies[runs%len(policies)]
	if out, err := exec.Command(bin, crashArgs(last, root)...).CombinedOutput(); err != nil {
		t.Fatalf("the pass after the kills: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, crashArgs(last, root)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No changes") {
		t.Fatalf("the second pass after the kills: %v\n%s", err, out)
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && atomicfile.IsTemp(d.Name()) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	t.Logf("%d runs, %d killed while running (a run took about %v at the end); %s held %d contents, %s %d",
		runs, kills, est, rulesFile, len(known[rulesFile]), ownFile, len(known[ownFile]))
}

const (
	rulesFile = "etc/falco/falco_rules.yaml"
	localFile = "etc/falco/falco_rules.local.yaml"
	ownFile   = "etc/falco/rules.d/50-rulekeeper.yaml"
)

// crashPolicies are four policies taken in turn, so that every run writes:
// in place A, override B, in place B, override A.
func crashPolicies(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(exam, "policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, v := range []struct{ strategy, prefix string }{
		{"in_place", "NEW SHELL!!!"}, {"override", "SHELL B:"}, {"in_place", "SHELL B:"}, {"override", "NEW SHELL!!!"},
	} {
		s := strings.Replace(string(src), `strategy = "in_place"`, `strategy = "`+v.strategy+`"`, 1)
		s = strings.Replace(s, `prefix  = "NEW SHELL!!!"`, `prefix  = "`+v.prefix+`"`, 1)
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "policy.hcl"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func crashArgs(policy, root string) []string {
	return []string{"apply", "--policy", policy, "--root", root, "--falco", "none", "--reload=false"}
}

// wholeFiles lists every file that is not one of its known contents.
func wholeFiles(root string, known map[string]map[string]bool) []string {
	var bad []string
	for f, set := range known {
		b, err := os.ReadFile(filepath.Join(root, f))
		got := string(b)
		if errors.Is(err, fs.ErrNotExist) {
			got = "<absent>"
		} else if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		if !set[got] {
			bad = append(bad, fmt.Sprintf("%s holds %d bytes that are none of its known contents", f, len(b)))
		}
	}
	return bad
}

// sampleFolder reads the rules folder over and over until stop: every file
// there must be a finished rules file.
func sampleFolder(dir string, own map[string]bool, stop <-chan struct{}) []string {
	var bad []string
	for {
		des, _ := os.ReadDir(dir)
		for _, de := range des {
			switch de.Name() {
			case ".keep":
			case filepath.Base(ownFile):
				b, err := os.ReadFile(filepath.Join(dir, de.Name()))
				if err == nil && !own[string(b)] {
					bad = append(bad, fmt.Sprintf("sampled %s half-written (%d bytes)", de.Name(), len(b)))
				}
			default:
				bad = append(bad, "sampled "+de.Name()+" in the rules folder")
			}
		}
		select {
		case <-stop:
			return bad
		case <-time.After(100 * time.Microsecond): // leave the other core to the process
		}
	}
}

// watchNames records, with inotify, every name created in or moved into
// dir (however short-lived); the returned function lists them.
func watchNames(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				l := int(binary.NativeEndian.Uint32(buf[off+12:]))
				name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+l], "\x00"))
				mu.Lock()
				seen[name] = true
				mu.Unlock()
				off += unix.SizeofInotifyEvent + l
			}
		}
	}()
	t.Cleanup(func() { unix.Close(fd) })
	return func() []string {
		time.Sleep(50 * time.Millisecond) // let the reader drain the last events
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for n := range seen {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
}
