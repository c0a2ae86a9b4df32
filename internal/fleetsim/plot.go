package fleetsim

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var waveColors = []color.Color{
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // wave 0, the canary
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// Plot writes a PNG with, for each result, the share of each wave's nodes
// that run the pushed commit against the seconds since the push (the wave's
// time dashed), and under it the server's new connections per second over
// the whole run: the herd a fleet without splay makes. Runs that stopped
// before their rollout are left out.
func Plot(file string, all []*Result) error {
	var rs []*Result
	for _, r := range all {
		if len(r.Rollout.Waves) > 0 {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return fmt.Errorf("no run got as far as its rollout: nothing to plot")
	}
	rows := make([][]*plot.Plot, 2)
	for _, r := range rs {
		c, err := curves(r)
		if err != nil {
			return err
		}
		rows[0] = append(rows[0], c)
		rows[1] = append(rows[1], herd(r))
	}
	const w, h = 5.2 * vg.Inch, 3.6 * vg.Inch
	img := vgimg.New(vg.Length(len(rs))*w, 2*h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 2, Cols: len(rs), PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(rows, t, dc)
	for i := range rows {
		for j, p := range rows[i] {
			p.Draw(canvases[i][j])
		}
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func label(r *Result) string {
	return fmt.Sprintf("%s, interval %s, splay %s: %d nodes", r.serverName(), r.Interval, r.Splay, r.Agents+r.Daemons)
}

func curves(r *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = label(r)
	p.X.Label.Text = "seconds since the push"
	p.Y.Label.Text = "share of the wave on the new commit (%)"
	p.Y.Min, p.Y.Max = 0, 100
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	xmax := 0.0
	for _, w := range r.Rollout.Waves {
		col := waveColors[w.Wave%len(waveColors)]
		pts := plotter.XYs{{X: 0, Y: 0}, {X: w.DueAt, Y: 0}}
		for i, t := range w.Times {
			pts = append(pts, plotter.XY{X: t, Y: 100 * float64(i+1) / float64(max(w.Nodes, 1))})
			xmax = max(xmax, t)
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		l.Color, l.Width = col, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("wave %d (%d nodes)", w.Wave, w.Nodes), l)
		due, err := plotter.NewLine(plotter.XYs{{X: w.DueAt, Y: 0}, {X: w.DueAt, Y: 100}})
		if err != nil {
			return nil, err
		}
		due.Color, due.Dashes = col, []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(due)
	}
	p.X.Min, p.X.Max = 0, xmax*1.05+1
	return p, nil
}

func herd(r *Result) *plot.Plot {
	p := plot.New()
	p.Title.Text = "server: new connections per second (polls)"
	p.X.Label.Text = "seconds since the agents started"
	p.Y.Label.Text = "connections / s"
	p.Add(plotter.NewGrid())
	pts := make(plotter.XYs, 0, len(r.Timeline))
	for _, s := range r.Timeline {
		pts = append(pts, plotter.XY{X: float64(s.T), Y: float64(s.Conns)})
	}
	if l, err := plotter.NewLine(pts); err == nil {
		l.StepStyle = plotter.PostStep
		l.Color = color.Gray{Y: 0x30}
		p.Add(l)
	}
	if at, ok := r.Events["push"]; ok {
		if l, err := plotter.NewLine(plotter.XYs{{X: at, Y: 0}, {X: at, Y: maxConns(r)}}); err == nil {
			l.Color, l.Dashes = waveColors[0], []vg.Length{vg.Points(3), vg.Points(3)}
			p.Add(l)
			p.Legend.Add("push", l)
		}
	}
	p.Y.Min = 0
	return p
}

func maxConns(r *Result) float64 {
	m := 1.0
	for _, s := range r.Timeline {
		m = max(m, float64(s.Conns))
	}
	return m
}
