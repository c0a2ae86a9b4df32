package realfalco

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Service returns the arguments that run the real Falco of a version as a
// long-lived service with no driver, on the rules files its config lists,
// with its web server on port (0: off).
//
// 0.40.0 and later run with engine.kind=nodriver and the given config.
// 0.32.1 has no such engine: it runs with the build's falco-noevents.yaml
// (the upstream falco.yaml with the noevents plugin, an event source that
// never produces an event), written into dir with the plugin's absolute path
// and, in place of its rules list, the rules of the given config.
func Service(tb testing.TB, version, config, dir string, port int) []string {
	tb.Helper()
	web := []string{"-o", "webserver.enabled=false"}
	if port != 0 {
		web = []string{"-o", "webserver.enabled=true", "-o", "webserver.listen_port=" + strconv.Itoa(port)}
	}
	if version != "0.32.1" {
		return append([]string{"-c", config, "-o", "engine.kind=nodriver"}, web...)
	}
	b, err := os.ReadFile(filepath.Join(Dir(tb), "0.32.1", "falco-noevents.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	node, err := os.ReadFile(config)
	if err != nil {
		tb.Fatal(err)
	}
	text := strings.Replace(string(b), "library_path: libnoevents.so\n",
		"library_path: "+filepath.Join(Dir(tb), "0.32.1", "plugins", "libnoevents.so")+"\n", 1)
	from, to := rulesBlock(text), rulesBlock(string(node))
	if from == "" || to == "" || !strings.Contains(text, "/plugins/libnoevents.so\n") {
		tb.Fatalf("cannot make a no-driver config of %s: falco-noevents.yaml or the node's config lacks a rules_file list or the plugin", config)
	}
	text = strings.Replace(text, from, to, 1)
	out := filepath.Join(dir, "falco-noevents.yaml")
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return append([]string{"-c", out}, web...)
}

// rulesBlock is the `rules_file:` list of a 0.32.1 falco.yaml, as text.
func rulesBlock(cfg string) string {
	i := strings.Index(cfg, "\nrules_file:\n")
	if i < 0 {
		return ""
	}
	end := i + len("\nrules_file:\n")
	for end < len(cfg) && strings.HasPrefix(cfg[end:], "  - ") {
		nl := strings.IndexByte(cfg[end:], '\n')
		if nl < 0 {
			return ""
		}
		end += nl + 1
	}
	return cfg[i:end]
}
