package promserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// A real Prometheus scrapes a target at 1 s and answers queries about it.
func TestScrapesTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE demo_value gauge\ndemo_value{kind=\"x\"} 42")
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	p := Start(t, Options{Jobs: []Job{{Name: "demo", Targets: []string{ln.Addr().String()}, Labels: map[string]string{"node": "n1"}}}})
	p.WaitUp(t, 20*time.Second)
	got, err := p.Query(context.Background(), `demo_value{job="demo",node="n1"}`)
	if err != nil || len(got) != 1 || got[0].Value != 42 || got[0].Labels["kind"] != "x" {
		t.Fatalf("query: %+v, %v", got, err)
	}
}

// A binary that is not there fails the test with a clear message; it is
// not skipped.
func TestMissingBinaryFails(t *testing.T) {
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ft, Options{Binary: "/nonexistent/prometheus"})
	}()
	<-done
	if !ft.failed {
		t.Fatal("Start with a missing binary did not fail the test")
	}
}

type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.TB.Logf("(expected) "+format, args...)
	runtime.Goexit()
}
