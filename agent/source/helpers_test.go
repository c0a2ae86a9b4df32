package source

import (
	"testing"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// The servers, the upstream repository and the keys come from internal/testkit/gitserve, shared with
// the daemon's tests; these names keep the tests short.

var (
	newUpstream     = gitserve.NewUpstream
	startGitDaemon  = gitserve.StartDaemon
	startHTTP       = gitserve.StartHTTP
	startSSHD       = gitserve.StartSSHD
	brokenGitServer = gitserve.Broken
	newKey          = gitserve.NewKey
	writeKeyring    = gitserve.WriteKeyring
	writeKey        = gitserve.WriteSSHKey
)

type syncBuffer = gitserve.Buffer

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gitserve.Git(t, dir, args...)
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	gitserve.WriteFile(t, file, content)
}
