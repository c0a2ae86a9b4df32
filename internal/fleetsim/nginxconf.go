package fleetsim

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The HTTP runs serve with the nginx config rulekeeper ships
// (packaging/nginx/rulekeeper-git.conf), so that the figures are that
// file's: only its paths and port are put in, and for the uncached run its
// cache is turned off. A directive the adaptation expects and does not find
// is an error, so that the file and the bench cannot drift apart.

// nginxSite adapts the shipped config at file: listening on port, serving
// base's repositories with backend through the fcgiwrap socket sock,
// caching under cacheDir, or not caching at all.
func nginxSite(file string, port int, base, backend, sock, cacheDir string, cache bool) (string, error) {
	if file == "" {
		return "", fmt.Errorf("the HTTP servers need the shipped nginx config (-nginx-conf packaging/nginx/rulekeeper-git.conf)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("the shipped nginx config: %w", err)
	}
	conf := string(b)
	subs := []struct{ re, with string }{
		{`(?m)^(\s*listen\s+)[^;]+;`, fmt.Sprintf("${1}127.0.0.1:%d;", port)},
		{`(?m)^(\s*fastcgi_cache_path\s+)\S+`, "${1}" + cacheDir},
		{`(?m)^(\s*include\s+)fastcgi_params;`, "${1}/etc/nginx/fastcgi_params;"},
		{`(?m)^(\s*fastcgi_param\s+SCRIPT_FILENAME\s+)[^;]+;`, "${1}" + backend + ";"},
		{`(?m)^(\s*fastcgi_param\s+GIT_PROJECT_ROOT\s+)[^;]+;`, "${1}" + base + ";"},
		{`(?m)^(\s*fastcgi_pass\s+)unix:[^;]+;`, "${1}unix:" + sock + ";"},
	}
	if !cache {
		subs = append(subs, struct{ re, with string }{`(?m)^(\s*fastcgi_cache\s+)\w+;`, "${1}off;"})
	}
	for _, s := range subs {
		re := regexp.MustCompile(s.re)
		if !re.MatchString(conf) {
			return "", fmt.Errorf("%s: no line matches %s: the bench adapts that directive", file, s.re)
		}
		conf = re.ReplaceAllString(conf, s.with)
	}
	return conf, nil
}

// refsCacheValidity is how long the shipped config keeps a ref
// advertisement ("" when it does not cache), for the figures.
func refsCacheValidity(conf string) string {
	m := regexp.MustCompile(`(?m)^\s*fastcgi_cache_valid\s+200\s+([^;]+);`).FindStringSubmatch(conf)
	if m == nil || regexp.MustCompile(`(?m)^\s*fastcgi_cache\s+off;`).MatchString(conf) {
		return ""
	}
	return strings.TrimSpace(m[1])
}
