package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a Falco version's MAJOR.MINOR.PATCH; a pre-release or build
// suffix is accepted but not ordered, as Falco lines differ by their numbers.
type version [3]int

// parseVersion reads MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] by hand: it
// runs while rulekeeper starts, where compiling a regexp would cost more.
func parseVersion(s string) (version, bool) {
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !suffixChars(build) {
		return version{}, false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre && !suffixChars(pre) {
		return version{}, false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	var v version
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return version{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return version{}, false
		}
		v[i] = n
	}
	return v, true
}

// suffixChars tells whether a pre-release or build suffix is non-empty and
// made of [0-9A-Za-z.-].
func suffixChars(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
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
