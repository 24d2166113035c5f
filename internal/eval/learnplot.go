package eval

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var (
	colBand   = color.NRGBA{R: 31, G: 119, B: 180, A: 70}
	colOracle = color.RGBA{R: 44, G: 160, B: 44, A: 255}
)

// maxPlotPoints bounds the points drawn per line (the JSON has them all).
const maxPlotPoints = 600

// plotSteps returns the 0-based steps drawn: about maxPlotPoints evenly
// spaced, always with the last.
func plotSteps(n int) []int {
	stride := max(1, n/maxPlotPoints)
	var out []int
	for i := stride - 1; i < n; i += stride {
		out = append(out, i)
	}
	if len(out) == 0 || out[len(out)-1] != n-1 {
		out = append(out, n-1)
	}
	return out
}

// writeLearningPlots draws the learning curve (cumulative mean reward per
// request against requests: the route, its band over the seeds, every arm
// alone with the best one in hindsight emphasised, and the oracle) and the
// cumulative regret against the best fixed arm and the oracle, each as
// PNG and SVG.
func writeLearningPlots(dir string, rep *Report) ([]string, error) {
	l := rep.Learning
	if l == nil || len(l.Steps.Reward) == 0 {
		return nil, nil
	}
	var out []string
	for _, draw := range []struct {
		file string
		f    func(*Report) (*plot.Plot, error)
	}{{"learning_curve", learningCurvePlot}, {"regret", regretPlot}} {
		p, err := draw.f(rep)
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".png", ".svg"} {
			name := draw.file + ext
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			out = append(out, name)
		}
	}
	return out, nil
}

// line draws y(i) at the plotted steps, x = i+1 requests.
func line(steps []int, y func(i int) float64, c color.Color, width float64, dashed bool) (*plotter.Line, error) {
	xys := make(plotter.XYs, len(steps))
	for k, i := range steps {
		xys[k] = plotter.XY{X: float64(i + 1), Y: y(i)}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width = c, vg.Points(width)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	return l, nil
}

func learningCurvePlot(rep *Report) (*plot.Plot, error) {
	l := rep.Learning
	st := &l.Steps
	steps := plotSteps(len(st.Reward))
	per := func(v []float64) func(int) float64 { return func(i int) float64 { return v[i] / float64(i+1) } }
	p := plot.New()
	p.Title.Text = fmt.Sprintf("route %s on %s: learning curve", rep.Route, filepath.Base(rep.Dataset))
	p.X.Label.Text = "requests"
	p.Y.Label.Text = fmt.Sprintf("mean reward per request (λ=%g, μ=%g)", l.Lambda, l.Mu)
	p.Legend.Top = false
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	if l.Seeds > 1 {
		var poly plotter.XYs
		for _, i := range steps {
			poly = append(poly, plotter.XY{X: float64(i + 1), Y: st.RewardMax[i] / float64(i+1)})
		}
		for k := len(steps) - 1; k >= 0; k-- {
			i := steps[k]
			poly = append(poly, plotter.XY{X: float64(i + 1), Y: st.RewardMin[i] / float64(i+1)})
		}
		band, err := plotter.NewPolygon(poly)
		if err != nil {
			return nil, err
		}
		band.Color, band.LineStyle.Width = colBand, 0
		p.Add(band)
		p.Legend.Add(fmt.Sprintf("range over %d seeds", l.Seeds), band)
	}
	for j, a := range l.Arms {
		best := a.Arm == l.BestArm
		c, w := color.Color(colRandom), 1.0
		if best {
			c, w = colModel, 1.5
		}
		ln, err := line(steps, per(st.Arms[j]), c, w, true)
		if err != nil {
			return nil, err
		}
		p.Add(ln)
		name := "arm " + a.Arm + " alone"
		if best {
			name += " (best fixed arm)"
		}
		p.Legend.Add(name, ln)
	}
	or, err := line(steps, per(st.Oracle), colOracle, 1.5, false)
	if err != nil {
		return nil, err
	}
	p.Add(or)
	p.Legend.Add("oracle", or)
	rt, err := line(steps, per(st.Reward), colRoute, 2, false)
	if err != nil {
		return nil, err
	}
	p.Add(rt)
	p.Legend.Add("route "+rep.Route, rt)
	p.X.Min = 0
	return p, nil
}

func regretPlot(rep *Report) (*plot.Plot, error) {
	l := rep.Learning
	st := &l.Steps
	steps := plotSteps(len(st.Reward))
	p := plot.New()
	p.Title.Text = fmt.Sprintf("route %s on %s: cumulative regret", rep.Route, filepath.Base(rep.Dataset))
	p.X.Label.Text = "requests"
	p.Y.Label.Text = "cumulative regret (reward)"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	fixed, err := line(steps, func(i int) float64 { return st.BestFixed[i] - st.Reward[i] }, colModel, 1.5, false)
	if err != nil {
		return nil, err
	}
	oracle, err := line(steps, func(i int) float64 { return st.Oracle[i] - st.Reward[i] }, colOracle, 1.5, false)
	if err != nil {
		return nil, err
	}
	zero, err := line([]int{0, len(st.Reward) - 1}, func(int) float64 { return 0 }, colRandom, 1, true)
	if err != nil {
		return nil, err
	}
	p.Add(zero, fixed, oracle)
	p.Legend.Add("against the best fixed arm", fixed)
	p.Legend.Add("against the oracle", oracle)
	p.X.Min = 0
	return p, nil
}
