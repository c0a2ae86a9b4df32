package policy

import (
	"embed"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/agext/levenshtein"
)

// The catalogues are data, not code, so that a new Falco line is a new file
// (named after the first Falco version it applies to) and its origin note.
//
//go:embed fields/*.md
var fieldFiles embed.FS

// Fields is the set of fields one Falco version line accepts in outputs.
type Fields struct {
	// Version is the first Falco version the catalogue applies to.
	Version string
	// Source is the catalogue's file name under policy/fields/.
	Source string
	ver    version

	// The text is read, and the table parsed, on first use: a pass needs
	// one catalogue at most, and most passes only look a few rows up.
	textOnce sync.Once
	data     string
	once     sync.Once
	names    map[string]bool
	sorted   []string
}

// argFields take an argument after a dot (`%evt.arg.fd`, `%k8s.pod.label.app`)
// besides the `[arg]` form. Falco's --list output only says so in prose, so
// the names are listed here; one counts only if the catalogue has it.
var argFields = []string{
	"evt.arg", "evt.rawarg", "evt.type.is", "evt.abspath", "thread.cgroup",
	"container.label", "k8s.pod.label", "k8s.rc.label", "k8s.svc.label",
	"k8s.ns.label", "k8s.rs.label", "k8s.deployment.label",
	"mesos.task.label", "marathon.app.label",
	"span.tag", "span.arg", "evtin.span.tag", "evtin.span.arg",
	"evtin.span.p.tag", "evtin.span.p.arg", "evtin.span.s.tag", "evtin.span.s.arg",
	"evtin.span.m.tag", "evtin.span.m.arg",
}

// pseudoFields are output tokens that are no fields: Falco's rule loader
// replaces %container.info in outputs before the formatter sees them, so
// `falco --list` does not show it while upstream rule files use it.
var pseudoFields = []string{"container.info"}

// catalogues lists the shipped catalogues by version, oldest first; only
// their file names are read here.
var catalogues = func() []*Fields {
	entries, err := fieldFiles.ReadDir("fields")
	if err != nil {
		panic(err)
	}
	var out []*Fields
	for _, e := range entries {
		v, ok := parseVersion(strings.TrimSuffix(e.Name(), ".md"))
		if !ok || !strings.HasSuffix(e.Name(), ".md") {
			panic("policy/fields/" + e.Name() + ": file name is not a Falco version") // a build bug
		}
		out = append(out, &Fields{Version: v.String(), Source: e.Name(), ver: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ver.less(out[j].ver) })
	return out
}()

func (f *Fields) text() string {
	f.textOnce.Do(func() {
		data, err := fieldFiles.ReadFile(path.Join("fields", f.Source))
		if err != nil {
			panic(err)
		}
		f.data = string(data)
	})
	return f.data
}

// table returns the field names, parsing the file the first time.
func (f *Fields) table() (map[string]bool, []string) {
	f.once.Do(func() {
		f.names = map[string]bool{}
		for _, line := range strings.Split(f.text(), "\n") {
			if name, ok := fieldRow(line); ok && !f.names[name] {
				f.names[name] = true
				f.sorted = append(f.sorted, name)
			}
		}
		if len(f.names) == 0 {
			panic("policy/fields/" + f.Source + ": no fields found") // a build bug
		}
		sort.Strings(f.sorted)
	})
	return f.names, f.sorted
}

// fieldRow reads a table row of `falco --list --markdown`: "`name` | TYPE | ...".
func fieldRow(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "`")
	if !ok {
		return "", false
	}
	name, rest, ok := strings.Cut(rest, "`")
	if !ok || name == "" || !strings.HasPrefix(strings.TrimLeft(rest, " \t"), "|") {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isFieldChar(c) {
			return "", false
		}
	}
	return name, true
}

// Catalogue returns the catalogue of the newest Falco line at or below
// version, the oldest one when version is older than all, and the newest when
// version is empty or not a version (an unknown Falco is most likely current).
func Catalogue(falcoVersion string) *Fields {
	v, ok := parseVersion(falcoVersion)
	if !ok {
		return catalogues[len(catalogues)-1]
	}
	best := catalogues[0]
	for _, c := range catalogues {
		if !v.less(c.ver) {
			best = c
		}
	}
	return best
}

// Catalogues lists every shipped catalogue, oldest first.
func Catalogues() []*Fields { return append([]*Fields(nil), catalogues...) }

// Names returns the catalogue's field names, sorted.
func (f *Fields) Names() []string {
	_, sorted := f.table()
	return append([]string(nil), sorted...)
}

// Check tells whether an output token (`%user.uid`, `%proc.aname[2]`,
// `%evt.arg.fd`; the `%` is optional) names a known field. When it does not,
// suggestion is the closest known field ("%user.uid"), or "" when none is close.
func (f *Fields) Check(token string) (ok bool, suggestion string) {
	name := strings.TrimPrefix(token, "%")
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if f.known(name) {
		return true, ""
	}
	if s := f.closest(name); s != "" {
		return false, "%" + s
	}
	return false, ""
}

// known answers from the catalogue's text: a pass checks a handful of
// fields, and finding their rows costs a tenth of building the table.
func (f *Fields) known(name string) bool {
	if slices.Contains(pseudoFields, name) || f.hasRow(name) {
		return true
	}
	for _, a := range argFields {
		if len(name) > len(a)+1 && strings.HasPrefix(name, a+".") && f.hasRow(a) {
			return true
		}
	}
	return false
}

// hasRow tells whether the catalogue has a row for the field name.
func (f *Fields) hasRow(name string) bool {
	text, quoted := f.text(), "`"+name+"`"
	for i := 0; ; {
		j := strings.Index(text[i:], quoted)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || text[at-1] == '\n' {
			line, _, _ := strings.Cut(text[at:], "\n")
			if n, ok := fieldRow(line); ok && n == name {
				return true
			}
		}
		i = at + 1
	}
}

// closest finds the known field nearest to name by edit distance, close
// enough to be a typo of it.
func (f *Fields) closest(name string) string {
	best, bestDist := "", len(name)/4+2
	_, sorted := f.table()
	for _, cand := range sorted {
		if d := levenshtein.Distance(name, cand, nil); d < bestDist {
			best, bestDist = cand, d
		}
	}
	return best
}

// falcoReads returns the longest known field that name starts with: what
// Falco's formatter prints instead, followed by the rest as text.
func (f *Fields) falcoReads(name string) string {
	best := ""
	_, sorted := f.table()
	for _, cand := range sorted {
		if len(cand) > len(best) && strings.HasPrefix(name, cand) {
			best = cand
		}
	}
	return best
}

// outputToken is one `%field` in an output text; start and end are byte
// offsets of the whole token (with `%` and any `[arg]`) in the text.
type outputToken struct {
	name       string
	start, end int
}

// outputTokens finds the `%field` tokens of an output text the way Falco's
// formatter delimits them: `%%` is a literal percent, a field name is made of
// letters, digits, `_` and `.`, a trailing `.` ends a sentence, and an
// optional `[arg]` follows the name.
func outputTokens(s string) []outputToken {
	var out []outputToken
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isFieldChar(s[j]) {
			j++
		}
		for j > i+1 && s[j-1] == '.' {
			j--
		}
		if j == i+1 {
			continue // a lone percent sign is text
		}
		tok := outputToken{name: s[i+1 : j], start: i}
		if j < len(s) && s[j] == '[' {
			if k := strings.IndexByte(s[j:], ']'); k >= 0 {
				j += k + 1
			}
		}
		tok.end = j
		out = append(out, tok)
		i = j - 1
	}
	return out
}

func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}
