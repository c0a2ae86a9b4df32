package fleetsim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// repo is the policy repository: a bare repository the server serves and a
// working copy that pushes to it with the git CLI, as an operator does.
type repo struct {
	base, bare, work string
	waves            int
	delay            time.Duration
}

func newRepo(dir string, waves int, delay time.Duration) (*repo, error) {
	r := &repo{base: filepath.Join(dir, "srv"), work: filepath.Join(dir, "work"), waves: waves, delay: delay}
	r.bare = filepath.Join(r.base, "policy.git")
	for _, d := range []string{r.base, r.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if _, err := r.git(r.base, "init", "-q", "--bare", "-b", "main", r.bare); err != nil {
		return nil, err
	}
	if _, err := r.git(r.work, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	if _, err := r.git(r.work, "remote", "add", "origin", r.bare); err != nil {
		return nil, err
	}
	return r, nil
}

// policy is the exam's policy at version v (the prefix changes, so every
// commit rewrites each node's rules file) with the fleet's rollout block.
func (r *repo) policy(v int) string {
	rollout := ""
	if r.waves > 1 {
		rollout = fmt.Sprintf("rollout {\n  waves = %d\n  delay = %q\n}\n\n", r.waves, r.delay.String())
	}
	return fmt.Sprintf(`falco {
  strategy = "in_place"
}

%srule "Terminal shell in container" {
  output {
    prefix  = "NEW SHELL v%d!!!"
    include = ["user_id=%%user.uid", "repo=%%container.image.repository"]
  }
}
`, rollout, v)
}

// push commits version v and pushes it; it returns the commit and its
// committer time (whole seconds, as git keeps it).
func (r *repo) push(v int) (string, time.Time, error) {
	if err := os.WriteFile(filepath.Join(r.work, "policy.hcl"), []byte(r.policy(v)), 0o644); err != nil {
		return "", time.Time{}, err
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", fmt.Sprintf("policy v%d", v)}, {"push", "-q", "origin", "main"}} {
		if _, err := r.git(r.work, args...); err != nil {
			return "", time.Time{}, err
		}
	}
	out, err := r.git(r.work, "log", "-1", "--format=%H %ct")
	if err != nil {
		return "", time.Time{}, err
	}
	sha, ct, _ := strings.Cut(out, " ")
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("commit time %q: %w", ct, err)
	}
	return sha, time.Unix(sec, 0), nil
}

func (r *repo) git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+dir,
		"GIT_AUTHOR_NAME=Policy Author", "GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Policy Author", "GIT_COMMITTER_EMAIL=author@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
