package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The lab tests run inside a container without Go, so they install packages
// built beforehand on the host (see lab_test.go); the other tests build
// their own.
var labPackages = flag.String("packages", "../dist/packages",
	"lab tests: directory holding the packages of versions "+labOld+" and "+labNew)

const (
	labOld = "0.1.0"
	labNew = "0.2.0"
)

type built struct{ deb, rpm string }

var (
	buildOnce sync.Once
	buildDir  string
	buildPkgs built
	buildErr  error
)

// packages builds the .deb and .rpm of version 9.8.7 once for all tests.
func packages(t *testing.T) built {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rulekeeper-packages-")
		if buildErr != nil {
			return
		}
		var files []string
		files, buildErr = Build(Options{Out: buildDir, Version: "9.8.7", Arch: "amd64"})
		for _, f := range files {
			switch filepath.Ext(f) {
			case ".deb":
				buildPkgs.deb = f
			case ".rpm":
				buildPkgs.rpm = f
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the packages: %v", buildErr)
	}
	return buildPkgs
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// need fails the test when a program is missing, naming the Debian package.
func need(t *testing.T, program, debianPackage string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("%s is missing: apt-get install %s", program, debianPackage)
	}
}

// run runs a command and returns its output; a failure fails the test.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runCode runs a command and returns its combined output and exit code.
func runCode(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), 0
}
