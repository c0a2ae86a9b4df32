package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// version is a Falco version's MAJOR.MINOR.PATCH; a pre-release or build
// suffix is accepted but not ordered, as Falco lines differ by their numbers.
type version [3]int

var versionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
})

func parseVersion(s string) (version, bool) {
	m := versionRE().FindStringSubmatch(s)
	if m == nil {
		return version{}, false
	}
	var v version
	for i := range v {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return version{}, false
		}
		v[i] = n
	}
	return v, true
}

func (v version) less(w version) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }
