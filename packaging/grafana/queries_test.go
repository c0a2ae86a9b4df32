package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rulekeeper/rulekeeper/internal/testkit/fleetlab"
	"github.com/rulekeeper/rulekeeper/internal/testkit/promserver"
)

// Every query of the dashboard, panels and annotations, run as Grafana
// runs it (a range query, its variables substituted) against a real
// Prometheus that scraped six real daemons through a new commit rolled out
// in three waves, a rollback, drift, tampering, a pinned node and a
// stopped agent (internal/testkit/fleetlab). Each returns data of the
// expected shape; a query that returns nothing fails.
func TestDashboardQueries(t *testing.T) {
	d := readDashboard(t)
	f := fleetlab.Run(t)
	r := runner{prom: f.Prom, start: f.Start, end: f.End, step: time.Second, scrape: time.Second}

	got := map[string]map[string][]promserver.Series{}
	for _, p := range d.Panels {
		got[p.Title] = map[string][]promserver.Series{}
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q %s", p.Title, tg.RefID)
			s, err := r.run(tg.Expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			got[p.Title][tg.RefID] = s
			if len(s) == 0 {
				t.Errorf("%s returns nothing: %s", where, r.expand(tg.Expr))
			}
		}
	}
	for _, p := range d.Panels {
		check, ok := panelChecks[p.Title]
		if !ok {
			t.Errorf("panel %q has no shape check in panelChecks", p.Title)
			continue
		}
		check(t, f, r, got[p.Title])
	}

	// The job variable lists the jobs that have agents: both of the lab's.
	for _, v := range d.Templating.List {
		if v.Name == "job" {
			if jobs := labelValues(t, f.Prom.URL, v); !slices.Equal(jobs, []string{fleetlab.Job, fleetlab.SteadyJob}) {
				t.Errorf("job variable: %v, want %v", jobs, []string{fleetlab.Job, fleetlab.SteadyJob})
			}
		}
	}

	anns := map[string][]promserver.Series{}
	for _, a := range d.Annotations.List {
		s, err := r.run(a.Expr)
		if err != nil || len(s) == 0 {
			t.Errorf("annotation %q: %d series, %v: %s", a.Name, len(s), err, r.expand(a.Expr))
		}
		anns[a.Name] = s
	}
	for name, want := range map[string][]string{
		"Drift": {fleetlab.Drifted}, "Tampering": {fleetlab.Tampered}, "Rollback": {fleetlab.Rollback},
	} {
		if s, ok := anns[name]; !ok || !slices.Equal(instances(s), want) {
			t.Errorf("annotation %q marks %v, want %v", name, instances(s), want)
		}
	}

	// The same checks fail on a query that returns nothing.
	if s, err := r.run(`rulekeeper_convergd{job="$job"}`); err != nil || len(s) != 0 {
		t.Errorf("a misspelled metric: %d series, %v; want none and no error", len(s), err)
	}

	if dir := os.Getenv("RULEKEEPER_PICTURES"); dir != "" {
		renderPictures(t, dir, f, got)
	}
}

// runner runs a dashboard query as Grafana does over the story's span.
type runner struct {
	prom       *promserver.Server
	start, end time.Time
	step       time.Duration // Grafana's $__interval: the query's step
	scrape     time.Duration // the datasource's scrape interval
}

// expand substitutes the variables Grafana substitutes: $job, $__interval,
// $__rate_interval (max(interval + scrape, 4 × scrape)) and $__range.
func (r runner) expand(expr string) string {
	secs := func(d time.Duration) string { return fmt.Sprintf("%ds", int(math.Ceil(d.Seconds()))) }
	rate := max(r.step+r.scrape, 4*r.scrape)
	return strings.NewReplacer("$__rate_interval", secs(rate), "$__interval", secs(r.step),
		"$__range", secs(r.end.Sub(r.start)), "${job}", fleetlab.Job, "$job", fleetlab.Job).Replace(expr)
}

var leftover = regexp.MustCompile(`\$[A-Za-z_{]`)

func (r runner) run(expr string) ([]promserver.Series, error) {
	q := r.expand(expr)
	if v := leftover.FindString(q); v != "" {
		return nil, fmt.Errorf("a variable (%s...) the test does not substitute: %s", v, q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.prom.QueryRange(ctx, q, r.start, r.end, r.step)
}

// panelChecks says, per panel title, what its queries return for the
// fleet's story. A panel missing here fails the test.
var panelChecks = map[string]func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series){
	"Agents reporting": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		wantEnd(t, "Agents reporting", got["A"], map[string]float64{"": 5})
	},
	"On the newest commit": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		// node-1, 2 and 3 of the six: node-4 rolled back, node-5 is
		// pinned, node-6 is silent.
		wantEnd(t, "On the newest commit", got["A"], map[string]float64{"": 0.5})
	},
	"Drift (1h)":     atLeastOne,
	"Tampering (1h)": atLeastOne,
	"Rollbacks (1h)": atLeastOne,
	"Not reporting": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		wantEnd(t, "Not reporting", got["A"], map[string]float64{"": 1})
	},
	"Fleet by commit": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		byShort(t, "Fleet by commit", f, got["A"], 0.6, 0.4)
	},
	"Nodes by commit, now": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		byShort(t, "Nodes by commit, now", f, got["A"], 3, 2)
	},
	"Convergence": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		s := got["A"]
		if len(s) != 1 {
			t.Fatalf("Convergence: %d series, want 1", len(s))
		}
		top := slices.MaxFunc(s[0].Points, func(a, b promserver.Point) int { return compare(a.V, b.V) })
		if top.V != 1 {
			t.Errorf("Convergence never reached 100 %% (the whole fleet on the first commit): max %v", top.V)
		}
		wantEnd(t, "Convergence", s, map[string]float64{"": 0.5})
	},
	"Convergence by wave": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		// Wave 0: node-1 on the new commit, node-4 rolled back; wave 1:
		// node-2 and node-3; wave 2: node-5 pinned (node-6 is silent).
		got0 := map[string]float64{}
		for _, s := range atEnd(got["A"]) {
			got0[s.Labels["wave"]] = s.Points[len(s.Points)-1].V
		}
		if want := map[string]float64{"0": 0.5, "1": 1, "2": 0}; fmt.Sprint(got0) != fmt.Sprint(want) {
			t.Errorf("Convergence by wave at the end: %v, want %v", got0, want)
		}
		// Wave 1 fell behind when the canary took the new commit and
		// caught up no sooner than its turn.
		var wave1 promserver.Series
		for _, s := range got["A"] {
			if s.Labels["wave"] == "1" {
				wave1 = s
			}
		}
		fell, back := time.Time{}, time.Time{}
		for _, p := range wave1.Points {
			if fell.IsZero() && p.V < 1 && !p.T.Before(f.NewestTime) {
				fell = p.T
			}
			if !fell.IsZero() && back.IsZero() && p.V == 1 {
				back = p.T
			}
		}
		if fell.IsZero() || back.IsZero() || back.Before(f.NewestTime.Add(fleetlab.WaveDelay)) {
			t.Errorf("wave 1 fell behind at %v and caught up at %v; the new commit is of %v, its wave came %v later", fell, back, f.NewestTime, fleetlab.WaveDelay)
		}
	},
	"Rollout state": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		states, total := map[string]bool{}, 0.0
		for _, s := range got["A"] {
			states[s.Labels["state"]] = true
		}
		for _, s := range atEnd(got["A"]) {
			total += s.Points[len(s.Points)-1].V
		}
		if !states["applied"] || !states["waiting"] || total != 5 {
			t.Errorf("Rollout state: states %v over the story (want applied and waiting), %v nodes at the end (want 5)", states, total)
		}
	},
	"Rolled-back commits": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		wantEnd(t, "Rolled-back commits", got["A"], map[string]float64{"": 1})
		if s := got["A"]; len(s) != 1 || s[0].Labels["short"] != f.Newest[:8] {
			t.Errorf("Rolled-back commits: %v, want the new commit (%s)", s, f.Newest[:8])
		}
	},
	"Nodes behind the newest commit": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		gap := f.NewestTime.Sub(f.FirstTime).Seconds()
		wantEnd(t, "Nodes behind the newest commit", got["A"], map[string]float64{fleetlab.Rollback: gap, fleetlab.Pinned: gap})
		for _, s := range atEnd(got["A"]) {
			if s.Labels["commit"] != f.First {
				t.Errorf("Nodes behind: %s on %s, want the first commit", s.Labels["instance"], s.Labels["commit"])
			}
		}
	},
	"Nodes not converged": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		wantEnd(t, "Nodes not converged", got["A"], map[string]float64{fleetlab.Rollback: 1})
	},
	"Drift and tampering": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		if i := instances(got["A"]); !slices.Equal(i, []string{fleetlab.Drifted}) || got["A"][0].Labels["restored"] != "true" {
			t.Errorf("Drift and tampering: drift on %v (%v), want node-2 restored", i, got["A"])
		}
		if i := instances(got["B"]); !slices.Equal(i, []string{fleetlab.Tampered}) {
			t.Errorf("Drift and tampering: tampering on %v, want node-3", i)
		}
	},
	"Rollbacks in the last hour": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		if i := instances(got["A"]); !slices.Equal(i, []string{fleetlab.Rollback}) {
			t.Errorf("Rollbacks: on %v, want node-4", i)
		}
	},
	"Reload duration by method": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		for _, ref := range []string{"A", "B"} {
			s := got[ref]
			if len(s) != 1 || s[0].Labels["method"] != "signal" {
				t.Errorf("Reload duration %s: %v, want one series, method signal (node-4's reloads)", ref, s)
				continue
			}
			if v := s[0].Points[len(s[0].Points)-1].V; !(v > 0 && v < 60) {
				t.Errorf("Reload duration %s: %v s", ref, v)
			}
		}
	},
	"Agents not reporting": func(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
		wantEnd(t, "Agents not reporting A", got["A"], map[string]float64{fleetlab.Silent: 0})
		if i := instances(got["B"]); !slices.Equal(i, fleetlab.Nodes) {
			t.Errorf("Agents not reporting B: time since the last pass of %v, want every node", i)
		}
	},
}

func atLeastOne(t *testing.T, f *fleetlab.Fleet, r runner, got map[string][]promserver.Series) {
	t.Helper()
	if s := atEnd(got["A"]); len(s) != 1 || s[0].Points[len(s[0].Points)-1].V < 1 {
		t.Errorf("want one series ending at 1 or more: %v", got["A"])
	}
}

// atEnd are the series that have a value at the last step of the span.
func atEnd(all []promserver.Series) []promserver.Series {
	var end time.Time
	for _, s := range all {
		if n := len(s.Points); n > 0 && s.Points[n-1].T.After(end) {
			end = s.Points[n-1].T
		}
	}
	var out []promserver.Series
	for _, s := range all {
		if n := len(s.Points); n > 0 && s.Points[n-1].T.Equal(end) {
			out = append(out, s)
		}
	}
	return out
}

// wantEnd checks the series present at the end by instance ("" for an
// aggregate) and their last values.
func wantEnd(t *testing.T, what string, all []promserver.Series, want map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for _, s := range atEnd(all) {
		got[s.Labels["instance"]] = s.Points[len(s.Points)-1].V
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s at the end: %v, want %v", what, got, want)
	}
}

// byShort checks a by-commit query: the two commits under their short
// names, the newest with the first value.
func byShort(t *testing.T, what string, f *fleetlab.Fleet, all []promserver.Series, newest, first float64) {
	t.Helper()
	got := map[string]float64{}
	for _, s := range atEnd(all) {
		got[s.Labels["short"]] = math.Round(s.Points[len(s.Points)-1].V*100) / 100
	}
	want := map[string]float64{f.Newest[:8]: newest, f.First[:8]: first}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s at the end: %v, want %v", what, got, want)
	}
}

func instances(all []promserver.Series) []string {
	var out []string
	for _, s := range all {
		out = append(out, s.Labels["instance"])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// labelValues runs a variable's label_values(METRIC, LABEL) query as
// Grafana does: the label values API, matched on the metric.
func labelValues(t *testing.T, prom string, v variable) []string {
	t.Helper()
	q, _ := v.Query.(map[string]any)
	m := regexp.MustCompile(`^label_values\((\w+), *(\w+)\)$`).FindStringSubmatch(fmt.Sprint(q["query"]))
	if m == nil {
		t.Fatalf("variable %s: query %v is not label_values(METRIC, LABEL)", v.Name, v.Query)
	}
	resp, err := http.Get(prom + "/api/v1/label/" + m[2] + "/values?" + url.Values{"match[]": {m[1]}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("variable %s: %v %+v", v.Name, err, r)
	}
	return r.Data
}
