package policy

import (
	"regexp"
	"strconv"
	"testing"
)

// The grammar parseVersion implements by hand, as a regexp.
var semver = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func TestParseVersionMatchesTheGrammar(t *testing.T) {
	for _, s := range []string{
		"0.32.1", "0.41.0", "10.200.3000", "1.2.3-rc1", "1.2.3-rc.1-x", "1.2.3+build.5", "1.2.3-rc1+b-2",
		"", "1.2", "1.2.3.4", "v1.2.3", "1.2.3-", "1.2.3+", "1.2.3-rc_1", "1.2.3+a+b", "1..3", "a.b.c",
		"1.2.3 ", " 1.2.3", "1.2.-3", "1.2.3-+x", "٣.2.1", "99999999999999999999.0.0",
	} {
		m := semver.FindStringSubmatch(s)
		want := m != nil
		var wantV version
		if want {
			for i := range wantV {
				n, err := strconv.Atoi(m[i+1])
				if err != nil {
					want = false
				}
				wantV[i] = n
			}
		}
		got, ok := parseVersion(s)
		if ok != want || (ok && got != wantV) {
			t.Errorf("parseVersion(%q) = %v, %v; the grammar says %v, %v", s, got, ok, wantV, want)
		}
	}
}
