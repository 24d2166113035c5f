package eval

import (
	"fmt"
	"image/color"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	colRoute    = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colFrontier = color.RGBA{R: 160, G: 220, B: 160, A: 255}
	colRandom   = color.RGBA{R: 127, G: 127, B: 127, A: 255}
	colModel    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colConfig   = color.RGBA{R: 255, G: 127, B: 14, A: 255}
)

// axis picks a run's x value: its cost share or its strong-call share.
type axis struct {
	file, label string
	x           func(s *Summary) float64
	// randomFrom is where the random router's line starts on this axis.
	randomFrom func(rr *RandomRouter) float64
}

var axes = []axis{
	{"quality_vs_cost", "cost share (% of the strong model's cost alone)",
		func(s *Summary) float64 { return s.CostShare }, func(rr *RandomRouter) float64 { return rr.WeakCostShare }},
	{"quality_vs_strong", "strong-call share (% of requests calling the strong model)",
		func(s *Summary) float64 { return s.StrongShare }, func(*RandomRouter) float64 { return 0 }},
}

// writePlots draws quality against cost share and against strong-call
// share, each as PNG and SVG: the swept curve, the route as configured,
// every labeled model alone, the random router's line and the Pareto
// frontier. It returns the file names written in dir.
func writePlots(dir string, rep *Report) ([]string, error) {
	var out []string
	for _, ax := range axes {
		p, err := drawPlot(rep, ax)
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".png", ".svg"} {
			name := ax.file + ext
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			out = append(out, name)
		}
	}
	learned, err := writeLearningPlots(dir, rep)
	if err != nil {
		return nil, err
	}
	return append(out, learned...), nil
}

func drawPlot(rep *Report, ax axis) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("route %s on %s (%d records)", rep.Route, filepath.Base(rep.Dataset), rep.N)
	p.X.Label.Text = ax.label
	p.Y.Label.Text = "quality"
	p.X.Tick.Marker = percentTicks{}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	var layers []plot.Plotter
	add := func(ps ...plot.Plotter) { layers = append(layers, ps...) }

	type pt struct {
		x, q  float64
		label string
	}
	var cands []pt
	// The random router between the weak and the strong model.
	var strong, weak *Baseline
	for i := range rep.Baselines {
		switch rep.Baselines[i].Model {
		case rep.Strong:
			strong = &rep.Baselines[i]
		case rep.Weak:
			weak = &rep.Baselines[i]
		}
	}
	if rr := rep.RandomRouter; rr != nil && strong != nil && weak != nil {
		l, err := plotter.NewLine(plotter.XYs{{X: ax.randomFrom(rr), Y: weak.Quality}, {X: 1, Y: strong.Quality}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = colRandom, []vg.Length{vg.Points(4), vg.Points(3)}, vg.Points(1)
		add(l)
		p.Legend.Add("random router", l)
	}
	// The swept curve.
	if c := rep.Curve; c != nil && len(c.Points) > 0 {
		var xys plotter.XYs
		for i := range c.Points {
			s := &c.Points[i].Summary
			xys = append(xys, plotter.XY{X: ax.x(s), Y: s.Quality})
			cands = append(cands, pt{ax.x(s), s.Quality, ""})
		}
		sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = colRoute, vg.Points(1.5)
		s.Color, s.Shape = colRoute, draw.CircleGlyph{}
		add(l, s)
		name := "route " + rep.Route
		if rep.Knob != nil {
			name += fmt.Sprintf(" (sweep of %s)", rep.Knob.Field)
		}
		p.Legend.Add(name, l, s)
	}
	// The route as configured.
	{
		s, err := plotter.NewScatter(plotter.XYs{{X: ax.x(&rep.Summary), Y: rep.Quality}})
		if err != nil {
			return nil, err
		}
		s.Color, s.Shape, s.Radius = colConfig, draw.PyramidGlyph{}, vg.Points(4)
		add(s)
		p.Legend.Add("route as configured", s)
		cands = append(cands, pt{ax.x(&rep.Summary), rep.Quality, ""})
	}
	// Every labeled model alone.
	var mxy plotter.XYs
	var mlabels []string
	for i := range rep.Baselines {
		b := &rep.Baselines[i]
		if b.Labeled == 0 {
			continue
		}
		mxy = append(mxy, plotter.XY{X: ax.x(&b.Summary), Y: b.Quality})
		mlabels = append(mlabels, " "+b.Model)
		cands = append(cands, pt{ax.x(&b.Summary), b.Quality, b.Model})
	}
	if len(mxy) > 0 {
		s, err := plotter.NewScatter(mxy)
		if err != nil {
			return nil, err
		}
		s.Color, s.Shape, s.Radius = colModel, draw.BoxGlyph{}, vg.Points(4)
		add(s)
		p.Legend.Add("single models", s)
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: mxy, Labels: mlabels})
		if err != nil {
			return nil, err
		}
		add(labels)
	}
	// The Pareto frontier on this axis.
	if len(cands) > 1 {
		xs, qs := make([]float64, len(cands)), make([]float64, len(cands))
		for i, c := range cands {
			xs[i], qs[i] = c.x, c.q
		}
		var fxy plotter.XYs
		for _, i := range Pareto(xs, qs) {
			fxy = append(fxy, plotter.XY{X: xs[i], Y: qs[i]})
		}
		l, err := plotter.NewLine(fxy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = colFrontier, vg.Points(4)
		p.Add(l)
		p.Legend.Add("Pareto frontier", l)
	}
	p.Add(layers...)
	p.X.Min = 0
	p.X.Max = 1.12
	return p, nil
}

// percentTicks labels a [0,1] axis in percent.
type percentTicks struct{}

func (percentTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for v := 0.0; v <= 1.0001; v += 0.1 {
		if v < lo-1e-9 || v > hi+1e-9 {
			continue
		}
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf("%.0f%%", 100*v)})
	}
	return out
}
