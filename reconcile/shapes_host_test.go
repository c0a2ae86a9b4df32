package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/policy"
)

// localPath is where the shape files go: a later file than the vendor's.
const localPath = "/etc/falco/falco_rules.local.yaml"

// shapeNode is a Falco 0.32.1 node whose falco_rules.local.yaml is a shape
// file, with CRLF line ends when crlf is set.
func shapeNode(t *testing.T, shape string, crlf bool) string {
	t.Helper()
	root := node032(t)
	data, err := os.ReadFile(filepath.Join("testdata/shapes", shape))
	if err != nil {
		t.Fatal(err)
	}
	if crlf {
		data = []byte(strings.ReplaceAll(string(data), "\n", "\r\n"))
	}
	writeNode(t, root, localPath, data)
	return root
}

// The shapes keep their own layout where the edit allows it.
func TestShapesLayoutKept(t *testing.T) {
	for _, tc := range []struct {
		shape string
		crlf  bool
		want  []string
	}{
		{"anchor-unused.yaml", false, []string{"  output: &shape_out !!str NEW SHELL!!! user_id=%user.uid repo=%container.image.repository SHAPE-ANCHOR"}},
		{"flow-item.yaml", false, []string{`, output: "NEW SHELL!!! user_id=%user.uid repo=%container.image.repository SHAPE-FLOW shell=%proc.name user=%user.name", priority: NOTICE}`}},
		{"indented.yaml", false, []string{"    output: >\n      NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\n      SHAPE-INDENTED shell=%proc.name\n"}},
		{"crlf-folded.yaml", true, []string{"  output: >\r\n    NEW SHELL!!! user_id=%user.uid repo=%container.image.repository\r\n    SHAPE-CRLF shell=%proc.name\r\n"}},
		{"multi-doc.yaml", false, []string{"  output: SHAPE-DOC1 shell=%proc.name\n", "  output: NEW SHELL!!! user_id=%user.uid repo=%container.image.repository SHAPE-DOC2"}},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			root := shapeNode(t, tc.shape, tc.crlf)
			mustApply(t, exam(policy.InPlace), opts(root))
			got := readNode(t, root, localPath)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("the file lacks %q:\n%s", w, got)
				}
			}
			if tc.crlf && strings.Count(got, "\n") != strings.Count(got, "\r\n") {
				t.Errorf("a line lost its CRLF:\n%q", got)
			}
		})
	}
}

// What cannot be edited safely is refused with the file's line and the
// reason, and nothing is written.
func TestShapesRefused(t *testing.T) {
	for _, tc := range []struct{ shape, want string }{
		{"anchor-used.yaml", localPath + ":6: rule \"Terminal shell in container\": the output carries the YAML anchor &shape_out, which an alias elsewhere in the file uses"},
		{"alias-target.yaml", localPath + ":8: rule \"Terminal shell in container\": the output is the YAML alias *shape_out of the value at line 4"},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			root := shapeNode(t, tc.shape, false)
			before := snapshot(t, root)
			_, err := MakePlan(exam(policy.InPlace), opts(root))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: %v\nwant: %s", err, tc.want)
			}
			sameTree(t, before, snapshot(t, root))
		})
	}
}
