package gate

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/promserver"
)

// Against a real Prometheus: a scalar, the largest sample of a vector, an
// empty vector refused, a query Prometheus refuses.
func TestQueryRealPrometheus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE g gauge\ng{n=\"a\"} 1\ng{n=\"b\"} 3")
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	p := promserver.Start(t, promserver.Options{Jobs: []promserver.Job{{Name: "g", Targets: []string{ln.Addr().String()}}}})
	p.WaitUp(t, 20*time.Second)
	ctx := context.Background()
	for q, want := range map[string]float64{"2.5": 2.5, "scalar(sum(g))": 4, "g": 3, `sum(g{n="zzz"}) or vector(0)`: 0, "sum(g)": 4} {
		if got, err := Query(ctx, nil, p.URL, q, 5*time.Second); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", q, got, err, want)
		}
	}
	if _, err := Query(ctx, nil, p.URL, `g{n="zzz"}`, 5*time.Second); err == nil || !strings.Contains(err.Error(), "or vector(0)") {
		t.Errorf("empty vector: %v", err)
	}
	if _, err := Query(ctx, nil, p.URL, `sum(`, 5*time.Second); err == nil || !strings.Contains(err.Error(), "refused the query") {
		t.Errorf("bad PromQL: %v", err)
	}
	if _, err := Query(ctx, nil, p.URL, `g[1m]`, 5*time.Second); err == nil || !strings.Contains(err.Error(), "matrix") {
		t.Errorf("a range vector: %v", err)
	}
}

// Answers no Prometheus gives but a wrong URL or a broken proxy can: each
// is an error, read within bounds.
func TestQueryBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("query") {
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "huge":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
			for range MaxResponse / 10 {
				fmt.Fprint(w, `{"metric":{},"value":[1,"1"]},`)
			}
		case "html":
			fmt.Fprint(w, "<html>login</html>")
		case "nan":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	start := time.Now()
	if _, err := Query(ctx, nil, srv.URL, "slow", 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Errorf("slow: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("the timeout did not bound the call: %v", time.Since(start))
	}
	for q, want := range map[string]string{"huge": "larger than", "html": "not its API's JSON", "nan": "not a number"} {
		if _, err := Query(ctx, nil, srv.URL, q, 5*time.Second); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", q, err, want)
		}
	}
	if _, err := Query(ctx, nil, "http://127.0.0.1:1", "up", time.Second); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable: %v", err)
	}
}
