// Package grafana holds the fleet's Grafana dashboard
// (rulekeeper-fleet.json, shipped in the packages) and its tests: the JSON
// checked as Grafana imports it, and every query run against a real
// Prometheus scraping a fleet of real daemons.
package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dashboardFile = "rulekeeper-fleet.json"

type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
	Panels []panel `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"`
	Datasource *datasource `json:"datasource"`
}

type annotation struct {
	Name       string      `json:"name"`
	Datasource *datasource `json:"datasource"`
	Expr       string      `json:"expr"`
	Title      string      `json:"titleFormat"`
	TagKeys    string      `json:"tagKeys"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct{ X, Y, W, H int }
	Targets    []target `json:"targets"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Legend     string      `json:"legendFormat"`
	Datasource *datasource `json:"datasource"`
}

// readDashboard reads the dashboard strictly: an unknown top-level field
// or a trailing byte is an error, as a typo would be.
func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one JSON value", dashboardFile)
	}
	return d
}

// The dashboard as Grafana 10/11 imports it: its variables, a Prometheus
// datasource chosen by the importer on every panel and annotation (no
// uid of someone's Grafana), queries on every panel, ids unique.
func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	for _, p := range checkShape(d, rawUIDs(t)) {
		t.Error(p)
	}
}

// The shape check catches what it is for: each broken copy is reported.
func TestDashboardShapeCatches(t *testing.T) {
	for name, tc := range map[string]struct {
		breakIt func(*dashboard)
		want    string
	}{
		"hard-coded uid":       {func(d *dashboard) { d.Panels[2].Datasource.UID = "P1809F7CD0C75ACF3" }, "datasource"},
		"no target":            {func(d *dashboard) { d.Panels[3].Targets = nil }, "no query"},
		"duplicate id":         {func(d *dashboard) { d.Panels[4].ID = d.Panels[5].ID }, "id"},
		"selector without job": {func(d *dashboard) { d.Panels[6].Targets[0].Expr = "rulekeeper_converged == 0" }, `job="$job"`},
		"old schema":           {func(d *dashboard) { d.SchemaVersion = 27 }, "schemaVersion"},
		"no job variable":      {func(d *dashboard) { d.Templating.List = d.Templating.List[:1] }, "job"},
	} {
		t.Run(name, func(t *testing.T) {
			d := readDashboard(t)
			tc.breakIt(&d)
			problems := checkShape(d, nil)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("not reported (want a problem naming %q); got %q", tc.want, problems)
			}
		})
	}
}

// rawUIDs lists every "uid" of a datasource anywhere in the file, panels
// nested in rows included.
func rawUIDs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var uids []string
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			if key == "datasource" {
				uids = append(uids, fmt.Sprint(x["uid"]))
			}
			for k, e := range x {
				walk(e, k)
			}
		case []any:
			for _, e := range x {
				walk(e, key)
			}
		}
	}
	walk(v, "")
	return uids
}

// selector is a metric selector of a query: a rulekeeper metric or up,
// with its braces when it has them.
var selector = regexp.MustCompile(`\b(rulekeeper_[a-z0-9_]+|up)\b(\{[^}]*\})?`)

func checkShape(d dashboard, uids []string) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		bad("schemaVersion %d is not one of Grafana 10 or 11 (36-41)", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		bad("the dashboard needs a uid and a title (a re-import replaces it rather than adding a copy)")
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		bad("no datasource variable of type prometheus: %+v", v)
	}
	if v, ok := vars["job"]; !ok || v.Type != "query" || !okDS(v.Datasource) {
		bad("no job variable queried from ${datasource}: %+v", v)
	}
	for _, u := range uids {
		if u != "${datasource}" {
			bad("a datasource with uid %q: every datasource must be ${datasource}, which the importer chooses", u)
		}
	}
	checkExpr := func(where, expr string) {
		if strings.TrimSpace(expr) == "" {
			bad("%s: an empty query", where)
		}
		for _, m := range selector.FindAllStringSubmatch(expr, -1) {
			if !strings.Contains(m[2], `job="$job"`) {
				bad(`%s: selector %s without job="$job" mixes in other jobs`, where, m[0])
			}
		}
	}
	ids := map[int]string{}
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" {
			bad("%s: no title", where)
		}
		if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
			bad("%s: id not unique or not positive (also %q)", where, prev)
		}
		ids[p.ID] = p.Title
		if !okDS(p.Datasource) {
			bad("%s: datasource %+v is not ${datasource}", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			bad("%s: no query", where)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				bad("%s: refId %q missing or repeated", where, tg.RefID)
			}
			refs[tg.RefID] = true
			if !okDS(tg.Datasource) {
				bad("%s %s: datasource %+v is not ${datasource}", where, tg.RefID, tg.Datasource)
			}
			checkExpr(where+" "+tg.RefID, tg.Expr)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			bad("%s: gridPos %+v off the 24-column grid", where, p.GridPos)
		}
	}
	for _, a := range d.Annotations.List {
		if !okDS(a.Datasource) {
			bad("annotation %q: datasource %+v is not ${datasource}", a.Name, a.Datasource)
		}
		checkExpr("annotation "+a.Name, a.Expr)
	}
	return problems
}

func okDS(d *datasource) bool {
	return d != nil && d.Type == "prometheus" && d.UID == "${datasource}"
}
