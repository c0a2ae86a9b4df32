package reconcile

import (
	"strings"
	"testing"
)

// The guard before a write refuses an edited item that is not what the
// edit promised: a byte changed outside the managed values, YAML that does
// not parse, a managed field that does not read as desired, another key
// that reads differently or appears. The splice never produces these; the
// guard is what stops a splice that one day would.
func TestCheckItemRefuses(t *testing.T) {
	const vendor = "- rule: A\n  desc: d\n  condition: c\n  output: old out\n  priority: NOTICE\n"
	edited := func(text, value string) (string, [][2]int, string, [][2]int) {
		i := strings.Index(text, "old out")
		next, nspans := splice(text, []edit{{i, i + len("old out"), value}})
		return text, [][2]int{{i, i + len("old out")}}, next, nspans
	}
	for _, tc := range []struct {
		name, vendor, value, want, err string
		tamper                         func(string) string // changes the new item outside the value
	}{
		{name: "the promised edit", vendor: vendor, value: "new out", want: "new out"},
		{name: "a byte outside the value", vendor: vendor, value: "new out", want: "new out", err: "bytes outside the managed values",
			tamper: func(s string) string { return strings.Replace(s, "desc: d", "desc: e", 1) }},
		{name: "not YAML", vendor: vendor, value: "new: out", want: "new: out", err: "not valid YAML"},
		{name: "a second entry", vendor: vendor, value: "new out\n- rule: B\n  x: y", want: "new out", err: "number of list entries"},
		{name: "not as desired", vendor: vendor, value: "new out", want: "other out", err: "output reads \"new out\", not \"other out\""},
		{name: "another key changes", vendor: "- rule: A\n  output: &o old out\n  desc: *o\n", value: "new out", want: "new out", err: "would change desc"},
		{name: "a key appears", vendor: vendor, value: "new out\n  tags: [x]", want: "new out", err: "would add tags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, vspans, next, nspans := edited(tc.vendor, tc.value)
			if tc.tamper != nil {
				next = tc.tamper(next)
			}
			_, _, err := checkItem(v, vspans, next, nspans, map[string]string{"output": tc.want})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && err == nil:
				t.Fatalf("let through:\n%s", next)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Fatalf("error %q does not say %q", err, tc.err)
			}
		})
	}
	// An edit that took the managed key away with its value.
	line := "  output: old out\n"
	i := strings.Index(vendor, line)
	next, nspans := splice(vendor, []edit{{i, i + len(line), ""}})
	if _, _, err := checkItem(vendor, [][2]int{{i, i + len(line)}}, next, nspans, map[string]string{"output": "new out"}); err == nil || !strings.Contains(err.Error(), `output reads "<nil>", not "new out"`) {
		t.Fatalf("a managed key gone: %v", err)
	}
}

// The whole-file guard of files whose items do not stand alone refuses a
// new file that Falco would read differently anywhere but in the edited
// fields, or where an edited field does not read as desired.
func TestCheckWholeRefuses(t *testing.T) {
	const old = "- rule: A\n  desc: d\n  condition: c\n  output: old\n  priority: NOTICE\n---\n- macro: m\n  condition: x\n"
	pf, err := parseFile([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	rf := &rulesFile{path: "/etc/falco/falco_rules.yaml", data: []byte(old), items: pf.items}
	touched := map[int]map[string]bool{0: {"output": true}}
	want := map[int]map[string]string{0: {"output": "new"}}
	edit := strings.Replace(old, "output: old", "output: new", 1)
	for _, tc := range []struct{ name, out, err string }{
		{"the promised edit", edit, ""},
		{"not YAML", strings.Replace(old, "output: old", "output: new: x", 1), "would not parse"},
		{"an entry fewer", strings.Replace(old, "- macro: m\n  condition: x\n", "", 1), "entries instead of"},
		{"an entry renamed", strings.Replace(edit, "macro: m", "macro: n", 1), "would read as macro \"n\""},
		{"an untouched entry changes", strings.Replace(edit, "condition: x", "condition: y", 1), "would change macro \"m\""},
		{"another key of the edited entry", strings.Replace(edit, "desc: d", "desc: e", 1), "would change the desc"},
		{"a key added to the edited entry", strings.Replace(old, "output: old", "output: new\n  tags: [x]", 1), "would add tags"},
		{"not as desired", strings.Replace(old, "output: old", "output: other", 1), "reads \"other\", not \"new\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkWhole(rf, []byte(tc.out), touched, want)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && err == nil:
				t.Fatalf("let through:\n%s", tc.out)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Fatalf("error %q does not say %q", err, tc.err)
			}
		})
	}
}
