package reconcile

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// loadOrder is the list of files Falco will load once the plan is applied:
// a listed file where it is listed, a listed directory's files sorted by
// name, the agent-owned file included where the plan creates it.
func loadOrder(entries, before []string, own string, files []*FileChange) []string {
	exists := map[string]bool{}
	for _, f := range before {
		exists[f] = true
	}
	for _, fc := range files {
		exists[fc.Path] = fc.Action != Delete
	}
	var order []string
	for _, e := range entries {
		if exists[e] {
			order = append(order, e)
			continue
		}
		var inDir []string
		for f, ok := range exists {
			if ok && path.Dir(f) == e && !slices.Contains(entries, f) {
				inDir = append(inDir, f)
			}
		}
		slices.Sort(inDir)
		order = append(order, inDir...)
	}
	return order
}

// loadsAfter checks that Falco loads own after every file in defs: an
// override or redefinition only wins when it comes later.
func loadsAfter(order []string, own string, defs map[string]def) error {
	at := slices.Index(order, own)
	for name, df := range defs {
		if i := slices.Index(order, df.file); i >= at {
			return fmt.Errorf("the override would not win: Falco loads %s before %s, which defines rule %q; choose an override_file that Falco loads later", own, df.file, name)
		}
	}
	return nil
}

// listsLoadAfter is loadsAfter for the lists the override file changes.
func listsLoadAfter(order []string, own string, lists map[string]listDef) error {
	at := slices.Index(order, own)
	for name, ld := range lists {
		if i := slices.Index(order, ld.file); i >= at {
			return fmt.Errorf("the override would not win: Falco loads %s before %s, which defines list %q; choose an override_file that Falco loads later", own, ld.file, name)
		}
	}
	return nil
}

var versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`) })

// versionAtLeast compares Falco versions by their first three numbers.
func versionAtLeast(v, min string) bool {
	a, b := parseVersion(v), parseVersion(min)
	if a == nil || b == nil {
		return false
	}
	return slices.Compare(a, b) >= 0
}

func parseVersion(v string) []int {
	m := versionRE().FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return nil
	}
	out := make([]int, 3)
	for i := range out {
		out[i], _ = strconv.Atoi(m[i+1])
	}
	return out
}
