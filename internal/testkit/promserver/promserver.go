// Package promserver starts a real Prometheus (Debian's `prometheus`
// package) on 127.0.0.1 for the tests: its own config scraping the given
// targets at a short interval, its own storage in a temporary folder,
// stopped when the test ends.
package promserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/gitserve"
)

// Job is one scrape job: its targets ("127.0.0.1:9464") and labels added to
// each of their series.
type Job struct {
	Name    string
	Targets []string
	Labels  map[string]string
	// TargetLabels adds labels to one target's series (a node's env,
	// its wave), as per-host service discovery does.
	TargetLabels map[string]map[string]string
	Path         string // default /metrics
}

// Options say what Prometheus scrapes and how often.
type Options struct {
	Jobs []Job
	// Interval is the scrape and rule evaluation interval; default 1s.
	Interval time.Duration
	// Binary is the prometheus program; default: $RULEKEEPER_PROMETHEUS,
	// else `prometheus` on PATH.
	Binary string
}

// Server is a running Prometheus.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Dir  string // its config and storage
	cmd  *exec.Cmd
	out  *gitserve.Buffer
	done chan struct{}
}

// Start starts Prometheus and waits until /-/ready answers 200; the test
// fails, with Prometheus' output, if it does not within 30 s.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := o.Binary
	if bin == "" {
		bin = os.Getenv("RULEKEEPER_PROMETHEUS")
	}
	if bin == "" {
		bin = gitserve.Need(t, "prometheus", "prometheus")
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	// JSON is YAML: the config is written with encoding/json.
	b, err := json.MarshalIndent(config(o), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	port := gitserve.FreePort(t)
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir, out: &gitserve.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--web.enable-lifecycle")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("prometheus exited before it was ready: %v\n%s", s.cmd.ProcessState, s.out)
		default:
		}
		if resp, err := http.Get(s.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready after 30s; its output:\n%s", s.URL, s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func config(o Options) map[string]any {
	iv := o.Interval.String()
	var jobs []map[string]any
	for _, j := range o.Jobs {
		static := []map[string]any{{"targets": j.Targets, "labels": j.Labels}}
		if len(j.TargetLabels) > 0 {
			static = nil
			for _, target := range j.Targets {
				labels := maps.Clone(j.Labels)
				if labels == nil {
					labels = map[string]string{}
				}
				maps.Copy(labels, j.TargetLabels[target])
				static = append(static, map[string]any{"targets": []string{target}, "labels": labels})
			}
		}
		job := map[string]any{
			"job_name": j.Name, "scrape_interval": iv, "scrape_timeout": iv,
			"static_configs": static,
		}
		if j.Path != "" {
			job["metrics_path"] = j.Path
		}
		jobs = append(jobs, job)
	}
	return map[string]any{
		"global":         map[string]any{"scrape_interval": iv, "evaluation_interval": iv},
		"scrape_configs": jobs,
	}
}

// Output is what Prometheus has logged so far.
func (s *Server) Output() string { return s.out.String() }

func (s *Server) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// apiData is the data of an answer of Prometheus's query API.
type apiData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// api GETs /api/v1/ENDPOINT and returns its data, or the error Prometheus
// gave.
func (s *Server) api(ctx context.Context, endpoint string, v url.Values) (apiData, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/"+endpoint+"?"+v.Encode(), nil)
	if err != nil {
		return apiData{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiData{}, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string  `json:"status"`
		Error  string  `json:"error"`
		Data   apiData `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return apiData{}, err
	}
	if r.Status != "success" {
		return apiData{}, errors.New(r.Error)
	}
	return r.Data, nil
}

// Sample is one series of an instant vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant query and returns its vector (a scalar as one
// sample without labels).
func (s *Server) Query(ctx context.Context, q string) ([]Sample, error) {
	r, err := s.api(ctx, "query", url.Values{"query": {q}})
	if err != nil {
		return nil, err
	}
	num := func(v any) float64 {
		f, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
		return f
	}
	if r.ResultType == "scalar" {
		var v [2]any
		if err := json.Unmarshal(r.Result, &v); err != nil {
			return nil, err
		}
		return []Sample{{Value: num(v[1])}}, nil
	}
	var vec []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := json.Unmarshal(r.Result, &vec); err != nil {
		return nil, fmt.Errorf("%s result: %w", r.ResultType, err)
	}
	out := make([]Sample, len(vec))
	for i, v := range vec {
		out[i] = Sample{Labels: v.Metric, Value: num(v.Value[1])}
	}
	return out, nil
}

// WaitUp waits until every target of every job has been scraped
// successfully (its `up` series is 1).
func (s *Server) WaitUp(t testing.TB, within time.Duration) {
	t.Helper()
	want := 0
	deadline := time.Now().Add(within)
	for {
		got, err := s.Query(context.Background(), "sum(up)")
		n, total := 0.0, -1
		if err == nil && len(got) == 1 {
			n = got[0].Value
		}
		if all, err := s.Query(context.Background(), "up"); err == nil {
			total = len(all)
		}
		if total > want && int(n) == total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus: targets not all up after %v (up: %v of %d, err %v); its output:\n%s", within, n, total, err, s.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Series is one series of a range query: its labels and its points.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one value of a series at a time.
type Point struct {
	T time.Time
	V float64
}

// QueryRange runs a range query, as Grafana's panels do, and returns its
// matrix.
func (s *Server) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]Series, error) {
	v := url.Values{"query": {q}, "start": {strconv.FormatInt(start.Unix(), 10)},
		"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	r, err := s.api(ctx, "query_range", v)
	if err != nil {
		return nil, fmt.Errorf("query_range %q: %w", q, err)
	}
	var matrix []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	if err := json.Unmarshal(r.Result, &matrix); err != nil {
		return nil, fmt.Errorf("query_range %q: %w", q, err)
	}
	out := make([]Series, len(matrix))
	for i, m := range matrix {
		out[i].Labels = m.Metric
		for _, p := range m.Values {
			t, _ := p[0].(float64)
			f, err := strconv.ParseFloat(fmt.Sprint(p[1]), 64)
			if err != nil {
				return nil, fmt.Errorf("query_range %q: value %v: %w", q, p[1], err)
			}
			out[i].Points = append(out[i].Points, Point{T: time.Unix(0, int64(t*1e9)), V: f})
		}
	}
	return out, nil
}
