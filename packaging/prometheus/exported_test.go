package prometheus

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rulekeeper/rulekeeper/internal/testkit/testbuild"
	"github.com/rulekeeper/rulekeeper/internal/testkit/testwait"
)

const exam = "../../examples/cks-terminal-shell"

// Every rulekeeper metric the alerts read is one a running agent exports:
// rulekeeperd, built as the packages build it, on a sandbox node, its policy
// in a git repository, scraped as Prometheus scrapes it. A metric renamed in
// the agent and not in the rules fails here.
func TestRulesReadExportedMetrics(t *testing.T) {
	used := metricsUsed(t)
	if len(used) < 5 {
		t.Fatalf("found only %v in the rules: is the pattern right?", used)
	}
	families := scrapeAgent(t)
	for _, name := range used {
		if !families[name] {
			t.Errorf("the alert rules read %s, which rulekeeperd does not export", name)
		}
	}
	if t.Failed() {
		t.Logf("rulekeeperd exports: %v", slices.Sorted(func(yield func(string) bool) {
			for n := range families {
				if !yield(n) {
					return
				}
			}
		}))
	}
}

// metricsUsed lists the rulekeeper metric names in the rules' expressions
// and annotation templates, a histogram's series by their family name.
func metricsUsed(t *testing.T) []string {
	t.Helper()
	name := regexp.MustCompile(`\brulekeeper_[a-z0-9_]+`)
	var used []string
	for _, r := range loadRules(t) {
		texts := []string{r.Expr}
		for _, a := range r.Annotations {
			texts = append(texts, a)
		}
		for _, s := range texts {
			for _, n := range name.FindAllString(s, -1) {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(n, suffix); ok && strings.HasSuffix(base, "_seconds") {
						n = base
					}
				}
				if !slices.Contains(used, n) {
					used = append(used, n)
				}
			}
		}
	}
	slices.Sort(used)
	return used
}

// scrapeAgent runs rulekeeperd until it has applied a commit and returns
// the metric families of its /metrics.
func scrapeAgent(t *testing.T) map[string]bool {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to make the test repository: install the Debian package git")
	}
	rkd := filepath.Join(filepath.Dir(testbuild.Programs(t)), "rulekeeperd")
	dir := t.TempDir()
	root, repo := filepath.Join(dir, "root"), filepath.Join(dir, "repo")
	if err := os.CopyFS(root, os.DirFS(exam+"/node")); err != nil {
		t.Fatal(err)
	}
	pol, err := os.ReadFile(exam + "/policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "policy.hcl"), pol, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "policy"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+repo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfg, []byte(`source {
  url      = "file://`+repo+`"
  branch   = "main"
  interval = "1h"
}
falco {
  binary = "none"
  reload = "none"
}
metrics { listen = "`+addr+`" }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rkd, "--config", cfg, "--root", root)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("rulekeeperd's log:\n%s", logs.String())
		}
	})

	var families map[string]bool
	testwait.Eventually(t, 30*time.Second, "rulekeeperd did not export an applied commit", func() bool {
		families = scrapeFamilies("http://" + addr + "/metrics")
		return families["rulekeeper_applied_commit_timestamp_seconds"] && families["rulekeeper_applied_commit_info"]
	})
	return families
}

// scrapeFamilies reads /metrics as Prometheus does; the families with at
// least one series, nil when it cannot.
func scrapeFamilies(url string) map[string]bool {
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for n, f := range fams {
		if len(f.Metric) > 0 {
			out[n] = true
		}
	}
	return out
}
