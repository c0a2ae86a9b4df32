package daemon

import (
	"context"
	"crypto/sha256"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The store outlives the process: what replace recorded (a copy of a
// managed file, only the hash and size of another) is what loadSeen reads
// back; a file dropped (nil) is gone from the folder too. Names that are no
// node path and hash files that do not parse are passed over, a copy too
// large to keep is dropped for its hash to be taken again.
func TestSeenStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "seen")
	s, err := loadSeen(dir)
	if err != nil || s.baseline() {
		t.Fatalf("a store never written: %v, baseline %v", err, s.baseline())
	}
	managed, other := "/etc/falco/falco_rules.yaml", "/etc/falco/rules.d/site.yaml"
	m, o := seenOf([]byte("- rule: a\n")), seenOf([]byte("- rule: b\n"))
	o.Data = nil // not managed: only its hash is kept
	if err := s.replace(map[string]*seen{managed: m, other: o, "/etc/falco/gone.yaml": nil}); err != nil {
		t.Fatal(err)
	}
	if !s.baseline() || !s.kept(managed) || s.kept(other) || s.kept("/etc/falco/gone.yaml") {
		t.Fatalf("after replace: baseline %v, kept %v %v", s.baseline(), s.kept(managed), s.kept(other))
	}
	hashFile := filepath.Join(dir, hashPrefix+url.PathEscape(other))
	if b, err := os.ReadFile(hashFile); err != nil || !strings.HasSuffix(string(b), " 10\n") {
		t.Fatalf("hash file of %s: %q %v", other, b, err)
	}

	// Strays beside them: not a node path, not a hash, a hash too short.
	for name, text := range map[string]string{
		"notes.txt": "x", hashPrefix + "relative": "00 1\n",
		hashPrefix + url.PathEscape("/etc/falco/bad.yaml"):    "zz 10\n",
		hashPrefix + url.PathEscape("/etc/falco/short.yaml"):  "abcd 10\n",
		hashPrefix + url.PathEscape("/etc/falco/nosize.yaml"): strings.Repeat("ab", sha256.Size) + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := loadSeen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.files); got != 2 {
		t.Errorf("read back %d files, want 2: %v", got, r.paths())
	}
	if g := r.files[managed]; g == nil || string(g.Data) != "- rule: a\n" || !g.same(m) {
		t.Errorf("the copy read back: %+v", g)
	}
	if g := r.files[other]; g == nil || g.Data != nil || !g.same(o) || g.Size != 10 {
		t.Errorf("the hash read back: %+v, want %+v", g, o)
	}
	if e := r.edits(map[string]*seen{managed: m, other: o}); len(e) != 0 {
		t.Errorf("the files as recorded are edits: %+v", e)
	}

	// The managed file no longer managed: its copy goes, its hash stays;
	// the other removed: both its names go.
	if err := r.replace(map[string]*seen{managed: {Sum: m.Sum, Size: m.Size}, other: nil}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, url.PathEscape(managed))); err == nil {
		t.Error("the copy of a file no longer managed is still kept")
	}
	if _, err := os.Stat(hashFile); err == nil {
		t.Error("the hash of a removed file is still kept")
	}
	back, err := loadSeen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if g := back.files[managed]; len(back.files) != 1 || g == nil || g.Data != nil || !g.same(m) {
		t.Errorf("after the second replace: %v, %+v", back.paths(), g)
	}

	// A copy larger than maxKept (kept by an earlier version) is dropped.
	big := filepath.Join(dir, url.PathEscape("/etc/falco/big.yaml"))
	if err := os.WriteFile(big, make([]byte, maxKept+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if again, err := loadSeen(dir); err != nil || again.files["/etc/falco/big.yaml"] != nil {
		t.Fatalf("a copy over maxKept: %v, %+v", err, again.files["/etc/falco/big.yaml"])
	}
	if _, err := os.Stat(big); err == nil {
		t.Error("the copy over maxKept was not removed")
	}

	// A copy that is no regular file: the store says which, and that it
	// cannot read it; one that cannot be removed: replace says so, and
	// keeps remembering the file.
	odd := "/etc/falco/odd.yaml"
	oddCopy := filepath.Join(dir, url.PathEscape(odd))
	if err := os.MkdirAll(filepath.Join(oddCopy, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSeen(dir); err == nil || !strings.Contains(err.Error(), oddCopy) || !strings.Contains(err.Error(), "not a readable regular file") {
		t.Errorf("a directory in place of a copy: %v", err)
	}
	back.files[odd] = m
	if err := back.replace(map[string]*seen{odd: nil}); err == nil || back.files[odd] == nil {
		t.Errorf("a copy that cannot be removed: %v, remembered %v", err, back.files[odd] != nil)
	}
}

// The first pass remembers every rules file Falco loads: the managed one
// whole, the others by their hash.
func TestFirstPassRemembersEveryRulesFile(t *testing.T) {
	t.Parallel()
	l := newLab(t, labOpts{local: true, interval: "1h"})
	d := l.idleDaemon()
	d.pass(context.Background(), false)
	local := "/etc/falco/falco_rules.local.yaml"
	want, err := os.ReadFile(l.host(local))
	if err != nil {
		t.Fatal(err)
	}
	if s := d.loop.seen.files[local]; s == nil || s.Data != nil || s.Sum != sha256.Sum256(want) {
		t.Errorf("%s remembered as %+v, want by its hash", local, s)
	}
	if s := d.loop.seen.files[rulesPath]; s == nil || string(s.Data) != l.rules() {
		t.Errorf("%s not remembered whole", rulesPath)
	}
}
