//go:build realfalco

package reconcile

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/realfalco"
	"github.com/rulekeeper/rulekeeper/policy"
)

const (
	capture = "../testdata/falco-traces/synthetic_terminal_shell_in_container.scap"
	// examAlert is how Falco 0.32.1 starts the alert once the exam's edit is in.
	examAlert = "Notice NEW SHELL!!! user_id=0 repo=nginx "
)

// judge032 has the real Falco 0.32.1 load the node's rules files in load
// order with the node's config (`-V` must say Ok), then replay the capture
// in which "Terminal shell in container" fires, and returns the alert: from
// its line to the summary Falco prints after it.
func judge032(t *testing.T, root string) string {
	t.Helper()
	return judge(t, "0.32.1", root)
}

// judge is judge032 for a Falco version without plugins (0.32.1, 0.40.0).
func judge(t *testing.T, version, root string) string {
	t.Helper()
	bin := realfalco.Binary(t, version)
	cfg := "testdata/falco/" + realfalco.Packages[version].Config
	files := []string{filepath.Join(root, rulesPath), filepath.Join(root, localPath)}
	extra, _ := filepath.Glob(filepath.Join(root, "etc/falco/rules.d/*"))
	slices.Sort(extra)
	files = append(files, extra...)
	var v, r []string
	for _, f := range files {
		v, r = append(v, "-V", f), append(r, "-r", f)
	}
	out, err := exec.Command(bin, append([]string{"-c", cfg}, v...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("falco %s -V refuses the files rulekeeper wrote: %v\n%s", version, err, out)
	}
	replay := append([]string{"-c", cfg}, r...)
	if version == "0.32.1" {
		replay = append(replay, "-e", capture)
	} else {
		replay = append(replay, "-o", "engine.kind=replay", "-o", "engine.replay.capture_file="+capture)
	}
	out, err = exec.Command(bin, replay...).CombinedOutput()
	if err != nil {
		t.Fatalf("falco %s replay: %v\n%s", version, err, out)
	}
	text := string(out)
	at := strings.Index(text, ": Notice ")
	if at < 0 || strings.Count(text, ": Notice ") != 1 || !strings.Contains(text, "Events detected: 1") {
		t.Fatalf("want one alert from the capture:\n%s", out)
	}
	alert, _, _ := strings.Cut(text[at:], "\nEvents detected")
	return alert
}

type shapeCase struct {
	shape  string
	file   string // the file whose definition Falco uses, and rulekeeper edits
	marker string // text of that definition's output that stays
	crlf   bool
}

var shapeCases = []shapeCase{
	{"keys-order.yaml", localPath, "SHAPE-KEYS shell=sh user=root", false},
	{"flow-item.yaml", localPath, "SHAPE-FLOW shell=sh user=root", false},
	{"indented.yaml", localPath, "SHAPE-INDENTED shell=sh user=root", false},
	{"multi-doc.yaml", localPath, "SHAPE-DOC2 shell=sh", false},
	{"enable-only.yaml", rulesPath, "A shell was spawned in a container", false},
	{"append-booleans.yaml", rulesPath, "A shell was spawned in a container", false},
	{"anchor-unused.yaml", localPath, "SHAPE-ANCHOR shell=sh user=root", false},
	{"aliases-elsewhere.yaml", localPath, "SHAPE-ALIASES shell=sh", false},
	{"crlf-folded.yaml", localPath, "SHAPE-CRLF shell=sh user=root", true},
	{"literal.yaml", localPath, "SHAPE-LITERAL shell=sh", false},
	{"text-breaks.yaml", localPath, "SHAPE-BREAKS\u0085end shell=sh user=root", false},
}

// Every shape Falco 0.32.1 accepts gets the exam's edit in the definition
// Falco uses, and only there: the real Falco loads the result and prints
// the new output for the capture. Applying again changes nothing; dropping
// the rule from the policy gives the file back byte for byte.
func TestRealFalcoShapes(t *testing.T) {
	for _, tc := range shapeCases {
		t.Run(tc.shape, func(t *testing.T) {
			root := shapeNode(t, tc.shape, tc.crlf)
			before := map[string]string{rulesPath: readNode(t, root, rulesPath), localPath: readNode(t, root, localPath)}
			p := mustApply(t, exam(policy.InPlace), opts(root))
			if len(p.Files) != 1 || p.Files[0].Path != tc.file {
				t.Fatalf("files written: %+v, want %s", p.Files, tc.file)
			}
			t.Log(p.Diff())
			for f, b := range before {
				if f != tc.file && readNode(t, root, f) != b {
					t.Fatalf("%s changed", f)
				}
			}
			alert := judge032(t, root)
			if !strings.HasPrefix(alert, ": "+examAlert) || !strings.Contains(alert, tc.marker) {
				t.Fatalf("Falco's alert is not the edited output of the definition it uses:\n%s", alert)
			}
			if !mustPlan(t, exam(policy.InPlace), opts(root)).Empty() {
				t.Fatal("second plan not empty")
			}
			mustApply(t, policy.Desired{Falco: policy.Falco{Strategy: policy.InPlace}}, opts(root))
			if readNode(t, root, tc.file) != before[tc.file] {
				t.Fatalf("dropping the rule did not restore %s byte for byte:\n%s", tc.file, readNode(t, root, tc.file))
			}
		})
	}
}

// The override strategy on Falco 0.32.1 copies the definition Falco uses,
// whatever its shape, into a redefinition Falco loads last: the real Falco
// prints the new output with the rest of that definition.
func TestRealFalcoShapesOverride(t *testing.T) {
	for _, tc := range shapeCases {
		t.Run(tc.shape, func(t *testing.T) {
			root := shapeNode(t, tc.shape, tc.crlf)
			before := map[string]string{rulesPath: readNode(t, root, rulesPath), localPath: readNode(t, root, localPath)}
			o := opts(root)
			o.FalcoVersion = "0.32.1"
			p := mustApply(t, exam(policy.Override), o)
			if len(p.Files) != 1 || p.Files[0].Path != policy.DefaultOverrideFile {
				t.Fatalf("files written: %+v", p.Files)
			}
			for f, b := range before {
				if readNode(t, root, f) != b {
					t.Fatalf("%s changed", f)
				}
			}
			alert := judge032(t, root)
			if !strings.Contains(alert, examAlert) || !strings.Contains(alert, tc.marker) {
				t.Fatalf("Falco's alert:\n%s\nthe redefinition:\n%s", alert, readNode(t, root, policy.DefaultOverrideFile))
			}
		})
	}
}

// A redefinition copied from an indented list sits at column 0 beside the
// others in the file rulekeeper owns.
func TestRealFalcoOverrideIndentedBesideOthers(t *testing.T) {
	root := shapeNode(t, "indented.yaml", false)
	d := exam(policy.Override)
	d.Rules = append(d.Rules, policy.Rule{Name: "Launch Privileged Container", Pos: "policy.hcl:12,1", Output: &policy.Output{Prefix: "RK!"}})
	o := opts(root)
	o.FalcoVersion = "0.32.1"
	mustApply(t, d, o)
	own := readNode(t, root, policy.DefaultOverrideFile)
	if !strings.Contains(own, "\n- rule: Terminal shell in container\n  desc:") || !strings.Contains(own, "\n    NEW SHELL!!!") {
		t.Fatalf("the copy is not at column 0:\n%s", own)
	}
	if alert := judge032(t, root); !strings.Contains(alert, examAlert+"SHAPE-INDENTED") {
		t.Fatalf("alert: %s", alert)
	}
}

// Text that a block scalar cannot hold (a line break, leading spaces) goes
// into the stock folded output as a double-quoted scalar: the edit applies,
// Falco loads it and prints the text.
func TestRealFalcoBlockScalarText(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  policy.Output
		want string
	}{
		{"prefix with a line break", policy.Output{Prefix: "FIRST LINE\nSECOND LINE"}, "Notice FIRST LINE\nSECOND LINE A shell was spawned"},
		{"prefix with leading spaces", policy.Output{Prefix: "  INDENTED"}, "Notice INDENTED A shell was spawned"},
		{"replace with a line break", policy.Output{Replace: ptr("line one\nline two user=%user.name")}, "Notice line one\nline two user=root"},
		{"replace with leading spaces", policy.Output{Replace: ptr("   LEADING user=%user.name")}, "Notice LEADING user=root"},
		{"replace with a tab and a quote", policy.Output{Replace: ptr("tab\there \"quoted\" user=%user.name")}, "Notice tab\there \"quoted\" user=root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := node032(t)
			d := exam(policy.InPlace)
			d.Rules[0].Output = &tc.out
			p := mustApply(t, d, opts(root))
			t.Log(p.Diff())
			if alert := judge032(t, root); !strings.Contains(alert, tc.want) {
				t.Fatalf("alert:\n%s\nwant: %q", alert, tc.want)
			}
			if !mustPlan(t, d, opts(root)).Empty() {
				t.Fatal("second plan not empty")
			}
		})
	}
}

// The same shapes on Falco 0.40.0 (falco-rules 3.2.0 as its package ships
// them): edited in place, and by `override:` entries, which read the output
// of the definition Falco uses whatever its shape.
func TestRealFalcoShapes040(t *testing.T) {
	for _, s := range []policy.Strategy{policy.InPlace, policy.Override} {
		for _, tc := range shapeCases {
			t.Run(string(s)+"/"+tc.shape, func(t *testing.T) {
				root := realfalco.Node(t, "testdata/falco", "0.40.0")
				data, err := os.ReadFile(filepath.Join("testdata/shapes", tc.shape))
				if err != nil {
					t.Fatal(err)
				}
				if tc.crlf {
					data = []byte(strings.ReplaceAll(string(data), "\n", "\r\n"))
				}
				writeNode(t, root, localPath, data)
				o := opts(root)
				o.FalcoVersion = "0.40.0"
				mustApply(t, exam(s), o)
				alert := judge(t, "0.40.0", root)
				if !strings.HasPrefix(alert, ": "+examAlert) || !strings.Contains(alert, tc.marker) {
					t.Fatalf("Falco's alert:\n%s", alert)
				}
			})
		}
	}
}

// A file whose lines end in a bare carriage return (old Mac line ends) is
// refused by Falco 0.32.1 and loaded by 0.40.0: the real Falcos disagree,
// so rulekeeper refuses to edit it, names the file and line, and writes
// nothing.
func TestRealFalcoLoneCarriageReturn(t *testing.T) {
	data := []byte("- rule: Other\r  desc: d\r  condition: evt.type=open\r  output: o\r  priority: NOTICE\r" +
		"- rule: Terminal shell in container\r  desc: d\r  condition: evt.type=open\r  output: o\r  priority: NOTICE\r")
	for version, want := range map[string]int{"0.32.1": 1, "0.40.0": 0} {
		root := realfalco.Node(t, "testdata/falco", version)
		writeNode(t, root, localPath, data)
		_, stderr, code := realfalco.Run(t, realfalco.Binary(t, version), "-c", "testdata/falco/"+realfalco.Packages[version].Config, "-V", filepath.Join(root, localPath))
		if (code != 0) != (want != 0) {
			t.Fatalf("falco %s -V exited %d, want %s:\n%s", version, code, map[int]string{0: "Ok", 1: "a refusal"}[want], stderr)
		}
		_, err := MakePlan(exam(policy.InPlace), opts(root))
		if err == nil || !strings.Contains(err.Error(), localPath+":1:") || !strings.Contains(err.Error(), "carriage return") {
			t.Fatalf("plan on Falco %s: %v, want a refusal naming %s line 1", version, err, localPath)
		}
		if readNode(t, root, localPath) != string(data) {
			t.Fatal("the refused file changed")
		}
	}
}
