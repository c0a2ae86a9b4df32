package reconcile

import (
	"os"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"
)

// unified diffs only the changed region; it must print exactly what a diff
// of the whole file prints.
func TestUnifiedEqualsWholeFileDiff(t *testing.T) {
	data, err := os.ReadFile("testdata/falco/falco_rules-0.32.1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := string(data)
	lines := strings.SplitAfter(a, "\n")
	edit := func(f func(l []string) []string) string {
		return strings.Join(f(append([]string(nil), lines...)), "")
	}
	for name, b := range map[string]string{
		"one line added":                    edit(func(l []string) []string { return append(l[:2023], append([]string{"    NEW\n"}, l[2023:]...)...) }),
		"first line changed":                edit(func(l []string) []string { l[0] = "# x\n"; return l }),
		"last line removed":                 edit(func(l []string) []string { return l[:len(l)-1] }),
		"two distant changes":               edit(func(l []string) []string { l[10] = "x\n"; l[3000] = "y\n"; return l }),
		"line 2 removed":                    edit(func(l []string) []string { return append(l[:1], l[2:]...) }),
		"appended at the end":               a + "- list: x\n  items: []\n",
		"everything replaced":               "- list: x\n",
		"unchanged":                         a,
		"inside a line":                     edit(func(l []string) []string { l[500] = l[500][:5] + "X" + l[500][6:]; return l }),
		"newline at the end removed":        strings.TrimSuffix(a, "\n"),
		"last line grown without a newline": strings.TrimSuffix(a, "\n") + "x",
		"a line repeated":                   edit(func(l []string) []string { return append(l[:41], l[40:]...) }),
	} {
		if got, want := unified("a", "b", []byte(a), []byte(b)), udiff.Unified("a", "b", a, b); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
