package fleet

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// What is not a working Prometheus gives exit 1 and one message naming the
// URL and what to do, and nothing on stdout: nothing listening, a web
// server that is not Prometheus, an answer that never ends, one that never
// comes, a URL that is not a base URL.
func TestFleetBadPrometheus(t *testing.T) {
	down := "http://" + closedAddr(t)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<!doctype html><html><body>Welcome to nginx!</body></html>")
	}))
	t.Cleanup(html.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	// A Prometheus-shaped answer without end: the reader stops at the cap.
	var sent atomic.Int64
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n, _ := fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		sent.Add(int64(n))
		item := strings.Repeat(`{"metric":{"instance":"node","job":"rulekeeper"},"value":[1,"1"]},`, 100)
		for sent.Load() < 1<<30 {
			n, err := fmt.Fprint(w, item)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(huge.Close)
	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(stall) })
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": parse error"}`)
	}))
	t.Cleanup(refusing.Close)

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"nothing listening", []string{"--prometheus", down}, []string{"cannot reach Prometheus at " + down, "connection refused", "check --prometheus"}},
		{"not Prometheus", []string{"--prometheus", html.URL}, []string{html.URL + " answered 200 OK with something that is not Prometheus's query API", "text/html", "Welcome to nginx", "base URL of a Prometheus server"}},
		{"404", []string{"--prometheus", notFound.URL}, []string{notFound.URL + " answered 404 Not Found", "base URL of a Prometheus server"}},
		{"huge answer", []string{"--prometheus", huge.URL}, []string{"the answer of " + huge.URL + " to time() is over 8 MiB, the limit"}},
		{"no answer", []string{"--prometheus", slow.URL, "--timeout", "300ms"}, []string{"no answer from Prometheus at " + slow.URL + " within 300ms", "--timeout"}},
		{"refused query", []string{"--prometheus", refusing.URL}, []string{"the Prometheus at " + refusing.URL + " refused the query time(): bad_data: invalid parameter"}},
		{"not a base URL", []string{"--prometheus", "prometheus:9090"}, []string{`--prometheus "prometheus:9090" is not a server's base URL`}},
		{"no --prometheus", nil, []string{"usage: rulekeeper fleet --prometheus URL"}},
		{"unknown flag", []string{"--prometheus", down, "--jbo", "x"}, []string{"flag provided but not defined: -jbo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := run(t, tc.args...)
			if code != ExitError || out != "" {
				t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
			if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines > 0 && !strings.Contains(errOut, "usage") && !strings.Contains(errOut, "flag") {
				t.Errorf("%d lines of error, want one:\n%s", lines+1, errOut)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
	// The client read no more than the cap and a buffer's worth: the
	// server's writes failed soon after.
	time.Sleep(200 * time.Millisecond)
	if n := sent.Load(); n > 4*MaxResponse {
		t.Errorf("the endless answer went on to %d bytes", n)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
