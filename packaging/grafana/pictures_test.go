package grafana

import (
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/rulekeeper/rulekeeper/internal/testkit/fleetlab"
	"github.com/rulekeeper/rulekeeper/internal/testkit/promserver"
)

// The README's pictures of three of the dashboard's panels, drawn from
// what the real Prometheus answered in TestDashboardQueries
// (scripts/fleet-pictures.sh sets RULEKEEPER_PICTURES to docs/).
func renderPictures(t *testing.T, dir string, f *fleetlab.Fleet, got map[string]map[string][]promserver.Series) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	palette := []color.Color{
		color.RGBA{0x73, 0xbf, 0x69, 0xff}, // Grafana's green, blue, yellow, orange
		color.RGBA{0x57, 0x94, 0xf2, 0xff},
		color.RGBA{0xfa, 0xde, 0x2a, 0xff},
		color.RGBA{0xff, 0x98, 0x30, 0xff},
	}

	// Fleet by commit: the shares stacked, the newest commit on top.
	p := newPlot("Fleet by commit (share of reporting nodes)")
	series := slices.Clone(got["Fleet by commit"]["A"])
	slices.SortFunc(series, func(a, b promserver.Series) int { return a.Points[0].T.Compare(b.Points[0].T) })
	cum := map[int64]float64{}
	var layers []*plotter.Line
	for i, s := range series {
		xy := plotter.XYs{}
		for _, pt := range stepTimes(series) {
			cum[pt.Unix()] += valueAt(s, pt)
			xy = append(xy, plotter.XY{X: float64(pt.Unix()), Y: cum[pt.Unix()]})
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			t.Fatal(err)
		}
		l.FillColor = palette[i%len(palette)]
		l.Color = color.Black
		l.Width = vg.Points(0.5)
		layers = append(layers, l)
		p.Legend.Add("commit "+s.Labels["short"], l)
	}
	// The highest layer first: each lower one is drawn over it.
	for _, l := range slices.Backward(layers) {
		p.Add(l)
	}
	p.Y.Min, p.Y.Max = 0, 1.3
	p.Y.Tick.Marker = percentTicks{}
	save(t, p, filepath.Join(dir, "fleet-by-commit.png"))

	// Convergence, with the annotations' events as vertical marks.
	p = newPlot("Convergence (share of nodes on the newest commit, converged)")
	conv := got["Convergence"]["A"]
	if len(conv) != 1 {
		t.Fatalf("Convergence: %d series", len(conv))
	}
	xy := plotter.XYs{}
	for _, pt := range conv[0].Points {
		xy = append(xy, plotter.XY{X: float64(pt.T.Unix()), Y: pt.V})
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		t.Fatal(err)
	}
	l.Color, l.Width = palette[0], vg.Points(2)
	p.Add(l)
	p.Legend.Add("fleet", l)
	for i, ev := range []struct{ title, panel, ref string }{
		{"rollback", "Rollbacks in the last hour", "A"},
		{"drift", "Drift and tampering", "A"},
		{"tampering", "Drift and tampering", "B"},
	} {
		s := got[ev.panel][ev.ref]
		if len(s) == 0 {
			t.Fatalf("no %s in the data", ev.title)
		}
		at := float64(s[0].Points[0].T.Unix())
		mark, err := plotter.NewLine(plotter.XYs{{X: at, Y: 0}, {X: at, Y: 1}})
		if err != nil {
			t.Fatal(err)
		}
		mark.Color, mark.Dashes = palette[(i+1)%len(palette)], []vg.Length{vg.Points(4), vg.Points(3)}
		mark.Width = vg.Points(1.5)
		p.Add(mark)
		p.Legend.Add(ev.title+" on "+s[0].Labels["instance"], mark)
	}
	p.Y.Min, p.Y.Max = 0, 1.55
	p.Y.Tick.Marker = percentTicks{}
	save(t, p, filepath.Join(dir, "fleet-convergence.png"))

	// Convergence by wave: one line per wave, the commit's time marked.
	p = newPlot("Convergence by wave (rollout waves 4 s apart)")
	waves := slices.Clone(got["Convergence by wave"]["A"])
	slices.SortFunc(waves, func(a, b promserver.Series) int { return strings.Compare(a.Labels["wave"], b.Labels["wave"]) })
	for i, s := range waves {
		xy := plotter.XYs{}
		for _, pt := range s.Points {
			xy = append(xy, plotter.XY{X: float64(pt.T.Unix()), Y: pt.V})
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			t.Fatal(err)
		}
		l.Color, l.Width = palette[(i+1)%len(palette)], vg.Points(2)
		l.Dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(2)}, {vg.Points(2), vg.Points(2)}}[i%3]
		p.Add(l)
		p.Legend.Add("wave "+s.Labels["wave"], l)
	}
	at := float64(f.NewestTime.Unix())
	mark, err := plotter.NewLine(plotter.XYs{{X: at, Y: 0}, {X: at, Y: 1}})
	if err != nil {
		t.Fatal(err)
	}
	mark.Color, mark.Dashes = color.Gray{Y: 0x80}, []vg.Length{vg.Points(1), vg.Points(3)}
	p.Add(mark)
	p.Legend.Add("new commit (its committer time)", mark)
	p.Y.Min, p.Y.Max = 0, 1.55
	p.Y.Tick.Marker = percentTicks{}
	save(t, p, filepath.Join(dir, "fleet-convergence-by-wave.png"))
}

func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (UTC), 1 s steps"
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05", Time: func(x float64) time.Time { return time.Unix(int64(x), 0).UTC() }}
	// The legend sits above the 100 % line, in the room the axis keeps.
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(6)
	p.Title.Padding = vg.Points(6)
	p.Add(plotter.NewGrid())
	return p
}

func save(t *testing.T, p *plot.Plot, file string) {
	t.Helper()
	if err := p.Save(18*vg.Centimeter, 9*vg.Centimeter, file); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	t.Logf("wrote %s", file)
}

// stepTimes are the range queries' steps from the first that has data
// to the last.
func stepTimes(series []promserver.Series) []time.Time {
	var first, last time.Time
	for _, s := range series {
		for _, p := range s.Points {
			if first.IsZero() || p.T.Before(first) {
				first = p.T
			}
			if p.T.After(last) {
				last = p.T
			}
		}
	}
	var out []time.Time
	for at := first; !first.IsZero() && !at.After(last); at = at.Add(time.Second) {
		out = append(out, at)
	}
	return out
}

// valueAt is the series' value at a step, 0 where it has none.
func valueAt(s promserver.Series, at time.Time) float64 {
	for _, p := range s.Points {
		if p.T.Unix() == at.Unix() {
			return p.V
		}
	}
	return 0
}

// percentTicks labels a 0-1 axis in percent.
type percentTicks struct{}

func (percentTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for v := 0.0; v <= 1.0001; v += 0.25 {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.Itoa(int(math.Round(v*100))) + " %"})
	}
	return ticks
}
