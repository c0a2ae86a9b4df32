package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const defaultVersion = "0.32.1"

// falcoVersion is the version the stand-in pretends to be: FALCO_STANDIN_VERSION, else the file
// standin-version beside the config (so a sandbox root carries its own), else 0.32.1.
func falcoVersion(configPath string) string {
	if v := strings.TrimSpace(os.Getenv("FALCO_STANDIN_VERSION")); v != "" {
		return v
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(configPath), "standin-version")); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return v
		}
	}
	return defaultVersion
}

// atLeast reports whether version v is >= want; both are "X.Y.Z" (a suffix after '-' is ignored).
func atLeast(v, want string) (bool, error) {
	a, err := parseVersion(v)
	if err != nil {
		return false, err
	}
	b, err := parseVersion(want)
	if err != nil {
		return false, err
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i], nil
		}
	}
	return true, nil
}

func parseVersion(v string) ([3]int, error) {
	var out [3]int
	core, _, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return out, fmt.Errorf("version %q is not X.Y.Z", v)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return out, fmt.Errorf("version %q is not X.Y.Z: %w", v, err)
		}
		out[i] = n
	}
	return out, nil
}

// Falco changed how it loads and reports rules over the versions; the
// stand-in follows the two it is compared with (TestRealFalcoStandin*).

// newLoader reports whether version v has the rule loader of newer Falco
// (seen on 0.40.0): `-V` names every file and goes on past an invalid one,
// errors carry LOAD_ERR_* codes, the log says `Loading rules from:` and then
// `   FILE | schema validation: ok` per file, and a reload loads the files on
// the side first, keeping the old rules when they fail. Before it (seen on
// 0.32.1): `Loading rules from file FILE:`, and a reload that fails exits.
// The line is drawn at 0.35.0, where the loader was rewritten.
func newLoader(v string) bool {
	ok, err := atLeast(v, "0.35.0")
	return err == nil && ok
}

// everyFileOfFolder reports whether version v loads every regular file of a
// rules folder, dot-files and editor backups included (up to 0.40.x);
// from 0.41.0 only *.yaml and *.yml.
func everyFileOfFolder(v string) bool {
	ok, err := atLeast(v, "0.41.0")
	return err != nil || !ok
}
