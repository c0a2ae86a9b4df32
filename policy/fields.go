package policy

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"path"
	"regexp"
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
	names  map[string]bool
	sorted []string
	ver    version
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

// loadCatalogues parses them on first use: a pass whose outputs have no
// %field to check does not pay for it at start-up.
var loadCatalogues = sync.OnceValue(mustLoadCatalogues)

func mustLoadCatalogues() []*Fields {
	entries, err := fieldFiles.ReadDir("fields")
	if err != nil {
		panic(err)
	}
	var out []*Fields
	for _, e := range entries {
		f, err := parseCatalogue(e.Name())
		if err != nil {
			panic(err) // embedded data: a broken file is a build bug
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ver.less(out[j].ver) })
	return out
}

// fieldRow matches a table row of `falco --list --markdown`: "`name` | TYPE | ...".
var fieldRow = regexp.MustCompile("^`([A-Za-z0-9_.]+)`\\s*\\|")

func parseCatalogue(name string) (*Fields, error) {
	data, err := fieldFiles.ReadFile(path.Join("fields", name))
	if err != nil {
		return nil, err
	}
	v, ok := parseVersion(strings.TrimSuffix(name, ".md"))
	if !ok {
		return nil, fmt.Errorf("fields/%s: file name is not a Falco version", name)
	}
	f := &Fields{Version: v.String(), Source: name, names: map[string]bool{}, ver: v}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if m := fieldRow.FindStringSubmatch(sc.Text()); m != nil && !f.names[m[1]] {
			f.names[m[1]] = true
			f.sorted = append(f.sorted, m[1])
		}
	}
	if len(f.names) == 0 {
		return nil, fmt.Errorf("fields/%s: no fields found", name)
	}
	sort.Strings(f.sorted)
	return f, nil
}

// Catalogue returns the catalogue of the newest Falco line at or below
// version, the oldest one when version is older than all, and the newest when
// version is empty or not a version (an unknown Falco is most likely current).
func Catalogue(falcoVersion string) *Fields {
	catalogues := loadCatalogues()
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
func Catalogues() []*Fields { return append([]*Fields(nil), loadCatalogues()...) }

// Names returns the catalogue's field names, sorted.
func (f *Fields) Names() []string { return append([]string(nil), f.sorted...) }

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

func (f *Fields) known(name string) bool {
	if f.names[name] {
		return true
	}
	for _, p := range pseudoFields {
		if name == p {
			return true
		}
	}
	for _, a := range argFields {
		if f.names[a] && len(name) > len(a)+1 && strings.HasPrefix(name, a+".") {
			return true
		}
	}
	return false
}

// closest finds the known field nearest to name by edit distance, close
// enough to be a typo of it.
func (f *Fields) closest(name string) string {
	best, bestDist := "", len(name)/4+2
	for _, cand := range f.sorted {
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
	for _, cand := range f.sorted {
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
