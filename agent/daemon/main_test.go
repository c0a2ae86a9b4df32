package daemon

import (
	"flag"
	"os"
	"testing"
)

// The package's tests spend most of their time waiting on daemons, git
// servers and webhooks, not on the CPU: run four at once whatever
// GOMAXPROCS, unless -parallel says otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}
