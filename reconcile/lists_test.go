package reconcile

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

func listPolicy(s policy.Strategy, lists ...policy.List) policy.Desired {
	for i := range lists {
		lists[i].Pos = "tuning.hcl:1,1"
	}
	return policy.Desired{Falco: policy.Falco{Strategy: s}, Lists: lists}
}

// A list edited in place changes only its items, in the layout the file
// writes them; removing the block from the policy restores the vendor's
// bytes.
func TestListInPlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		list policy.List
		diff string // diff(1) changed lines against the vendor file
	}{
		{"add to a flow list", policy.List{Name: "shell_binaries", Add: []string{"fish", "yes"}},
			"< " + "  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]\n> " + `  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash, fish, "yes"]`},
		{"remove from a flow list", policy.List{Name: "shell_binaries", Remove: []string{"sh", "ash", "dash"}},
			"< " + "  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]\n> " + "  items: [bash, csh, ksh, tcsh, zsh]"},
		{"replace a flow list", policy.List{Name: "shell_binaries", Replace: true, Items: []string{"zsh", "fish"}},
			"< " + "  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]\n> " + "  items: [zsh, fish]"},
		{"add to an empty flow list", policy.List{Name: "trusted_images", Add: []string{"registry.example.com/team/api"}},
			"< " + "  items: []\n> " + "  items: [registry.example.com/team/api]"},
		{"empty a flow list", policy.List{Name: "shell_binaries", Replace: true, Items: []string{}},
			"< " + "  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]\n> " + "  items: []"},
		{"multi-line flow list: remove the last of a line, add one", policy.List{Name: "ssh_binaries", Remove: []string{"ssh-agent", "sshd"}, Add: []string{"dropbear"}},
			"<     sshd, sftp-server, ssh-agent,\n>     sftp-server,\n" +
				"<     ssh-keygen, ssh-keysign, ssh-keyscan, ssh-add\n>     ssh-keygen, ssh-keysign, ssh-keyscan, ssh-add, dropbear"},
		{"quoted items", policy.List{Name: "known_shell_spawn_cmdlines", Remove: []string{`"sh -c uname -s 2>&1"`}},
			`<     '"sh -c uname -s 2>&1"',`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			mustApply(t, listPolicy(policy.InPlace, tc.list), opts(root))
			got := vendorDiff(t, root)
			if !strings.Contains(got, tc.diff) || len(strings.Split(got, "\n")) > len(strings.Split(tc.diff, "\n"))+2 {
				t.Fatalf("diff against the vendor file:\n%s\nwant:\n%s", got, tc.diff)
			}
			p := mustPlan(t, listPolicy(policy.InPlace, tc.list), opts(root))
			if !p.Empty() {
				t.Fatalf("second pass plans %s", p.Summary())
			}
			mustApply(t, listPolicy(policy.InPlace), opts(root))
			if d := vendorDiff(t, root); d != "" {
				t.Fatalf("the list left the policy, the file still differs from the vendor's:\n%s", d)
			}
		})
	}
}

// A block list gains and loses whole `- item` lines.
func TestListInPlaceBlock(t *testing.T) {
	root := node032(t)
	vendor := "- list: team_images\n  items:\n    - nginx   # the web tier\n    - \"redis\"\n    - busybox\n\n- rule: X\n  desc: x\n  condition: container.image.repository in (team_images)\n  output: x\n  priority: INFO\n"
	writeNode(t, root, localPath, []byte(vendor))
	l := policy.List{Name: "team_images", Remove: []string{"nginx"}, Add: []string{"quay.io/team/api:v1", "null"}}
	mustApply(t, listPolicy(policy.InPlace, l), opts(root))
	want := "- list: team_images\n  items:\n    - \"redis\"\n    - busybox\n    - quay.io/team/api:v1\n    - \"null\"\n\n- rule: X\n"
	if got := readNode(t, root, localPath); !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant it to start with\n%s", got, want)
	}
	mustApply(t, listPolicy(policy.InPlace), opts(root))
	if got := readNode(t, root, localPath); got != vendor {
		t.Fatalf("not restored:\n%s", got)
	}
	// The new item goes where the removed last one was.
	l = policy.List{Name: "team_images", Remove: []string{"busybox"}, Add: []string{"alpine"}}
	mustApply(t, listPolicy(policy.InPlace, l), opts(root))
	want = "- list: team_images\n  items:\n    - nginx   # the web tier\n    - \"redis\"\n    - alpine\n\n- rule: X\n"
	if got := readNode(t, root, localPath); !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant it to start with\n%s", got, want)
	}
}

// Drift on a managed list is put back; a list Falco amends later is edited
// only where the edit counts.
func TestListInPlaceDriftAndAppends(t *testing.T) {
	root := node032(t)
	l := policy.List{Name: "shell_binaries", Remove: []string{"sh"}}
	mustApply(t, listPolicy(policy.InPlace, l), opts(root))
	h := filepath.Join(root, rulesPath)
	b, _ := os.ReadFile(h)
	os.WriteFile(h, []byte(strings.Replace(string(b), "ksh, tcsh", "ksh, sh, tcsh", 1)), 0o644)
	p := mustPlan(t, listPolicy(policy.InPlace, l), opts(root))
	if len(p.Files) != 1 || len(p.Files[0].Changes) != 1 || p.Files[0].Changes[0].Reason != ReasonDrift || p.Files[0].Changes[0].Kind != "list" {
		t.Fatalf("want one drift change of the list, got %s", p.Summary())
	}

	// An append entry in the local file adds sh back after the definition.
	writeNode(t, root, localPath, []byte("- list: shell_binaries\n  append: true\n  items: [sh, fish]\n"))
	_, err := MakePlan(listPolicy(policy.InPlace, l), opts(root))
	if err == nil || !strings.Contains(err.Error(), `the item "sh" is added by the entry at /etc/falco/falco_rules.local.yaml:1`) {
		t.Fatalf("want a refusal naming the append entry, got %v", err)
	}
	// Adding what an append entry adds already changes nothing.
	p = mustPlan(t, listPolicy(policy.InPlace, policy.List{Name: "shell_binaries", Add: []string{"fish"}}), opts(root))
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			if c.Kind == "list" && c.Reason == ReasonPolicy {
				t.Fatalf("fish is appended already, yet the plan changes the list: %s", p.Summary())
			}
		}
	}
}

func TestListRefusals(t *testing.T) {
	root := node032(t)
	_, err := MakePlan(listPolicy(policy.InPlace, policy.List{Name: "shell_binarys", Add: []string{"fish"}}), opts(root))
	if err == nil || !strings.Contains(err.Error(), `tuning.hcl:1,1: list "shell_binarys" is not defined`) || !strings.Contains(err.Error(), `Did you mean "shell_binaries"?`) {
		t.Fatalf("want an unknown list with a suggestion, got %v", err)
	}
	p := mustPlan(t, listPolicy(policy.InPlace, policy.List{Name: "shell_binaries", Remove: []string{"bsh"}}), opts(root))
	if !strings.Contains(strings.Join(p.Notes, "\n"), `list "shell_binaries" has no item "bsh" to remove (did you mean "ash"?)`) || !p.Empty() {
		t.Fatalf("want a note on the missing item and no change, got %q, %s", p.Notes, p.Summary())
	}
}

// The drop-in entries: `override:` from Falco 0.37, `append: true` or a
// definition of the whole list before.
func TestListOverride(t *testing.T) {
	add := policy.List{Name: "shell_binaries", Add: []string{"fish", "sh"}}
	remove := policy.List{Name: "shell_binaries", Remove: []string{"sh"}, Add: []string{"fish"}}
	replace := policy.List{Name: "shell_binaries", Replace: true, Items: []string{"bash"}}
	for _, tc := range []struct {
		name, version string
		list          policy.List
		want          string
	}{
		{"add, 0.44.1", "0.44.1", add, "- list: shell_binaries\n  items: [fish]\n  override:\n    items: append\n"},
		{"remove, 0.44.1", "0.44.1", remove, "- list: shell_binaries\n  items: [ash, bash, csh, ksh, tcsh, zsh, dash, fish]\n  override:\n    items: replace\n"},
		{"replace, 0.44.1", "0.44.1", replace, "- list: shell_binaries\n  items: [bash]\n  override:\n    items: replace\n"},
		{"add, 0.32.1", "0.32.1", add, "- list: shell_binaries\n  append: true\n  items: [fish]\n"},
		{"remove, 0.32.1", "0.32.1", remove, "- list: shell_binaries\n  items: [ash, bash, csh, ksh, tcsh, zsh, dash, fish]\n"},
		{"replace, 0.32.1", "0.32.1", replace, "- list: shell_binaries\n  items: [bash]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			if tc.version == "0.44.1" {
				root = node044(t)
			}
			o := opts(root)
			o.FalcoVersion = tc.version
			mustApply(t, listPolicy(policy.Override, tc.list), o)
			got := readNode(t, root, policy.DefaultOverrideFile)
			if !strings.HasSuffix(got, "\n"+tc.want) {
				t.Fatalf("override file:\n%s\nwant it to end with:\n%s", got, tc.want)
			}
			if d := vendorDiff(t, root); tc.version == "0.32.1" && d != "" {
				t.Fatalf("the vendor file changed:\n%s", d)
			}
			mustApply(t, listPolicy(policy.Override), o)
			if _, err := os.Stat(filepath.Join(root, policy.DefaultOverrideFile)); !os.IsNotExist(err) {
				t.Fatalf("the list left the policy, the override file stays: %v", err)
			}
		})
	}
}

// Switching strategy moves the edit: the in-place edit is undone when the
// drop-in takes over.
func TestListSwitchStrategy(t *testing.T) {
	root := node032(t)
	l := policy.List{Name: "shell_binaries", Remove: []string{"sh"}}
	mustApply(t, listPolicy(policy.InPlace, l), opts(root))
	o := opts(root)
	o.FalcoVersion = "0.32.1"
	mustApply(t, listPolicy(policy.Override, l), o)
	if d := vendorDiff(t, root); d != "" {
		t.Fatalf("the in-place edit stays:\n%s", d)
	}
	if got := readNode(t, root, policy.DefaultOverrideFile); !strings.Contains(got, "- list: shell_binaries\n  items: [ash, bash, csh, ksh, tcsh, zsh, dash]\n") {
		t.Fatalf("override file computed from the edited list, not the vendor's:\n%s", got)
	}
}

// A new vendor file (a package upgrade) gets the list edit again, computed
// from the new vendor's items.
func TestListUpgrade(t *testing.T) {
	root := node032(t)
	l := policy.List{Name: "shell_binaries", Remove: []string{"sh"}}
	mustApply(t, listPolicy(policy.InPlace, l), opts(root))
	b, _ := os.ReadFile(vendor032)
	upgraded := strings.Replace(string(b), "items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]", "items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash, fish]", 1)
	upgraded = strings.Replace(upgraded, "# Copyright (C) 2022", "# Copyright (C) 2023", 1)
	writeNode(t, root, rulesPath, []byte(upgraded))
	p := mustApply(t, listPolicy(policy.InPlace, l), opts(root))
	if len(p.Files) != 1 || p.Files[0].Changes[0].Reason != ReasonUpgrade {
		t.Fatalf("want the edit re-applied on the new vendor file, got %s", p.Summary())
	}
	if got := readNode(t, root, rulesPath); !strings.Contains(got, "items: [ash, bash, csh, ksh, tcsh, zsh, dash, fish]\n") {
		t.Fatal("the new vendor's list did not get the edit")
	}
	mustApply(t, listPolicy(policy.InPlace), opts(root))
	if got := readNode(t, root, rulesPath); got != upgraded {
		t.Fatal("restoring did not give the new vendor's bytes back")
	}
}

// Lists rulekeeper cannot edit safely are refused with the file and line.
func TestListUneditable(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"multi-line block item", "- list: l\n  items:\n    - a\n    - b\n      c\n", "rulekeeper edits block lists of one `- item` per line"},
		{"a block list with a rule after it", "- list: l\n  items:\n    - a\n    - b\n- rule: r\n  desc: d\n  condition: proc.name in (l)\n  output: o\n  priority: INFO\n", ""},
		{"not a list", "- list: l\n  items: a\n", "items is not a list"},
		{"nested item", "- list: l\n  items: [[a]]\n", "an item that is not a plain value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			writeNode(t, root, localPath, []byte(tc.file))
			_, err := MakePlan(listPolicy(policy.InPlace, policy.List{Name: "l", Remove: []string{"a"}}), opts(root))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want it edited, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), localPath)):
				t.Fatalf("want an error naming %s with %q, got %v", localPath, tc.want, err)
			}
		})
	}
}

// A list written as a flow mapping entry is edited as well.
func TestListFlowEntry(t *testing.T) {
	root := node032(t)
	vendor := "- {list: l, items: [a, b, c]}\n- {list: m, items: [x]}\n"
	writeNode(t, root, localPath, []byte(vendor))
	mustApply(t, listPolicy(policy.InPlace, policy.List{Name: "l", Remove: []string{"b"}, Add: []string{"d"}}), opts(root))
	if got := readNode(t, root, localPath); got != "- {list: l, items: [a, c, d]}\n- {list: m, items: [x]}\n" {
		t.Fatalf("got %q", got)
	}
	mustApply(t, listPolicy(policy.InPlace), opts(root))
	if got := readNode(t, root, localPath); got != vendor {
		t.Fatalf("not restored: %q", got)
	}
}

// everyList is a policy that changes every list of a vendor file at once:
// its first item goes, a new one of the same kind comes. Falco types the
// items by their use: a list compared with fd.net takes networks, with a
// port numbers (the real Falco refuses "rk-added" there).
func everyList(t testing.TB, file string, s policy.Strategy) policy.Desired {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/falco", file))
	if err != nil {
		t.Fatal(err)
	}
	rf, err := readRules(file, b, false)
	if err != nil {
		t.Fatal(err)
	}
	d := policy.Desired{Falco: policy.Falco{Strategy: s}}
	seen := map[string]bool{}
	for i, it := range rf.items {
		if it.kind != "list" || seen[it.name] {
			continue
		}
		seen[it.name] = true
		m, err := rf.entry(i)
		if err != nil {
			t.Fatal(err)
		}
		items, err := seqItems(mapValue(m, "items"))
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			continue // nothing tells what an item of it looks like
		}
		add := likeItem(items[0])
		l := policy.List{Name: it.name, Add: []string{add}, Pos: "every.hcl:1,1"}
		if items[0] != add {
			l.Remove = []string{items[0]}
		}
		d.Lists = append(d.Lists, l)
	}
	if len(d.Lists) < 20 {
		t.Fatalf("%s: only %d lists", file, len(d.Lists))
	}
	return d
}

// Every list of the upstream 0.32.1 file, edited in place at once: each
// edit is checked, the second pass has nothing to do, and taking the lists
// out of the policy gives the vendor's bytes back.
func TestEveryListInPlace(t *testing.T) {
	root := node032(t)
	d := everyList(t, "falco_rules-0.32.1.yaml", policy.InPlace)
	p := mustApply(t, d, opts(root))
	n := 0
	for _, fc := range p.Files {
		for _, c := range fc.Changes {
			if c.Kind == "list" {
				n++
			}
		}
	}
	if n != len(d.Lists) {
		t.Fatalf("%d lists changed, want %d", n, len(d.Lists))
	}
	if p := mustPlan(t, d, opts(root)); !p.Empty() {
		t.Fatalf("second pass: %s", p.Summary())
	}
	mustApply(t, listPolicy(policy.InPlace), opts(root))
	if diff := vendorDiff(t, root); diff != "" {
		t.Fatalf("not restored:\n%s", diff)
	}
}

// likeItem is a new item of the kind of v: a number, a network, an address
// or a name; quoted for Falco where v is (`'"10.0.0.0/8"'`).
func likeItem(v string) string {
	if inner, ok := strings.CutPrefix(v, `"`); ok && len(inner) > 0 && strings.HasSuffix(inner, `"`) {
		return `"` + likeItem(strings.TrimSuffix(inner, `"`)) + `"`
	}
	if _, err := strconv.Atoi(v); err == nil {
		return "65432"
	}
	if _, _, err := net.ParseCIDR(v); err == nil {
		return "198.51.100.0/24"
	}
	if net.ParseIP(v) != nil {
		return "198.51.100.7"
	}
	return "rk-added"
}
