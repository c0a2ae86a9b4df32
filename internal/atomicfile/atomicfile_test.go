package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A file staged elsewhere takes its name complete: a new one by link, an
// existing one by rename (a new inode, the mode kept); the folder it lands
// in never holds anything else, and no temporary file stays anywhere.
func TestWriteStaged(t *testing.T) {
	top := t.TempDir()
	folder := filepath.Join(top, "rules.d")
	os.Mkdir(folder, 0o755)
	target := filepath.Join(folder, "50-x.yaml")

	if err := WriteStaged(target, top, []byte("one\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(target)
	if err != nil || fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Fatalf("new file: %v %v", fi, err)
	}
	ino := fi.Sys().(*syscall.Stat_t).Ino
	os.Chmod(target, 0o600)
	if err := WriteStaged(target, top, []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(target)
	if b, _ := os.ReadFile(target); string(b) != "two\n" || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Ino == ino {
		t.Fatalf("replaced file: %q mode %v, same inode %v", b, fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Ino == ino)
	}
	for _, d := range []string{top, folder} {
		des, _ := os.ReadDir(d)
		for _, de := range des {
			if IsTemp(de.Name()) {
				t.Errorf("temporary file left: %s", filepath.Join(d, de.Name()))
			}
		}
	}
	if des, _ := os.ReadDir(folder); len(des) != 1 {
		t.Errorf("the folder holds %d entries", len(des))
	}
	// A stage on another mount: the rename fails and the target stays.
	if err := WriteStaged(target, "/dev/shm", []byte("three\n"), 0o644); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("staged on another mount: %v, want EXDEV", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "two\n" {
		t.Errorf("after a failed write: %q", b)
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".falco_rules.yaml.rulekeeper-123":      true,
		".50-rulekeeper.yaml.rulekeeper-4711":   true,
		".state.json.rulekeeper-1":              true,
		"falco_rules.yaml.rulekeeper-123":       false,
		".falco_rules.yaml.rulekeeper-":         false,
		".falco_rules.yaml.rulekeeper-12a":      false,
		".rulekeeper-12":                        false,
		"50-rulekeeper.yaml":                    false,
		".falco_rules.yaml.rulekeeper-123.yaml": false,
	} {
		if IsTemp(name) != want {
			t.Errorf("IsTemp(%q) = %v", name, !want)
		}
	}
}

// Sweep removes strays (also empty ones, as a kill leaves them), leaves
// other files and a temporary file whose writer still holds it.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".a.yaml.rulekeeper-1", ".b.yaml.rulekeeper-22", "keep.yaml", ".keep", "x.rulekeeper-3"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	busy, err := os.CreateTemp(dir, ".c.yaml.rulekeeper-*")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if err := unix.Flock(int(busy.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	gone, err := Sweep(dir)
	if err != nil || len(gone) != 2 {
		t.Fatalf("swept %v, %v", gone, err)
	}
	var left []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		left = append(left, de.Name())
	}
	if got := strings.Join(left, " "); got != filepath.Base(busy.Name())+" .keep keep.yaml x.rulekeeper-3" {
		t.Errorf("left: %s", got)
	}
	if gone, err := Sweep(filepath.Join(dir, "missing")); err != nil || gone != nil {
		t.Errorf("a missing dir: %v %v", gone, err)
	}
}

// Stage takes the file's own folder unless refused, else the nearest
// ancestor on the same mount; a bind mount (the same st_dev, another
// mount, where rename fails) is not taken; without a place the error lists
// each folder tried and why.
func TestStage(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test bind-mounts a folder and must run as root (the test command runs it so)")
	}
	top := t.TempDir()
	folder := filepath.Join(top, "etc/falco/rules.d")
	os.MkdirAll(folder, 0o755)
	none := func(string) string { return "" }
	refuse := func(dirs ...string) func(string) string {
		return func(d string) string {
			for _, r := range dirs {
				if d == r {
					return "a rules folder"
				}
			}
			return ""
		}
	}
	if s, err := Stage(folder, top, none); err != nil || s != folder {
		t.Errorf("own folder: %s %v", s, err)
	}
	if s, err := Stage(folder, top, refuse(folder)); err != nil || s != filepath.Dir(folder) {
		t.Errorf("rules folder refused: %s %v", s, err)
	}
	if s, err := Stage(filepath.Join(folder, "new/deeper"), top, refuse(folder)); err != nil || s != filepath.Dir(folder) {
		t.Errorf("a folder still to be made: %s %v", s, err)
	}

	// The rules folder a mount of its own, as a bind mount of the same disk.
	src := filepath.Join(top, "src")
	os.Mkdir(src, 0o755)
	if out, err := exec.Command("mount", "--bind", src, folder).CombinedOutput(); err != nil {
		t.Fatalf("mount --bind: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", folder).Run() })
	_, err := Stage(folder, top, refuse(folder))
	var ns *NoStageError
	if !errors.As(err, &ns) {
		t.Fatalf("a rules folder that is a mount of its own: %v", err)
	}
	for _, w := range []string{folder + " (a rules folder)", filepath.Dir(folder) + " (another mount)", top + " (another mount)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v\ndoes not say %s", err, w)
		}
	}
	if s, err := Stage(folder, top, none); err != nil || s != folder {
		t.Errorf("the mount's own folder: %s %v", s, err)
	}
}
