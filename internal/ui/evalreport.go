package ui

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// evalSummary holds the fields of an eval summary the dashboard plots.
type evalSummary struct {
	N           int      `json:"n"`
	Labeled     int      `json:"labeled"`
	Quality     float64  `json:"quality"`
	CostShare   float64  `json:"cost_share"`
	StrongShare float64  `json:"strong_share"`
	CostUSD     float64  `json:"cost_usd"`
	PGR         *float64 `json:"pgr"`
}

// evalReport is the part of `sextant eval`'s report.json the dashboard
// reads (internal/eval.Report); unknown fields are ignored, so the report
// may grow.
type evalReport struct {
	Route  string `json:"route"`
	Strong string `json:"strong"`
	Weak   string `json:"weak"`
	evalSummary
	Knob *struct {
		Kind  string `json:"kind"`
		Field string `json:"field"`
	} `json:"knob"`
	Baselines []struct {
		Model string `json:"model"`
		evalSummary
	} `json:"baselines"`
	Points []struct {
		Knob float64 `json:"knob"`
		evalSummary
	} `json:"points"`
	APGR  *float64 `json:"apgr"`
	CPT50 *float64 `json:"cpt50"`
	CPT80 *float64 `json:"cpt80"`
}

// evalView is what /ui/api/eval returns for a route.
type evalView struct {
	Route      string      `json:"route"`
	File       string      `json:"file"`
	Modified   time.Time   `json:"modified"`
	Strong     string      `json:"strong"`
	Weak       string      `json:"weak"`
	Knob       string      `json:"knob,omitempty"`
	Configured evalPoint   `json:"configured"`
	Points     []evalPoint `json:"points"`
	Baselines  []evalPoint `json:"baselines"`
	APGR       *float64    `json:"apgr"`
	CPT50      *float64    `json:"cpt50"`
	CPT80      *float64    `json:"cpt80"`
}

type evalPoint struct {
	Label       string   `json:"label"`
	Knob        *float64 `json:"knob,omitempty"`
	CostShare   float64  `json:"cost_share"`
	StrongShare float64  `json:"strong_share"`
	Quality     float64  `json:"quality"`
	CostUSD     float64  `json:"cost_usd"`
}

// maxReports bounds the files scanned under the reports directory.
const maxReports = 2000

// reportFiles finds report.json files under dir (at most maxReports,
// at most 4 levels deep), newest first, with the route each is for.
func reportFiles(dir string) (map[string]string, error) {
	type found struct {
		path, route string
		mod         time.Time
	}
	var all []found
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(dir, path); rel != "." && depth(rel) > 4 {
				return fs.SkipDir
			}
			return nil
		}
		if d.Name() != "report.json" || len(all) >= maxReports {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rep, err := readReport(path)
		if err != nil || rep.Route == "" {
			return nil
		}
		all = append(all, found{path, rep.Route, info.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	out := map[string]string{}
	for _, f := range all {
		if _, ok := out[f.route]; !ok {
			out[f.route] = f.path
		}
	}
	return out, nil
}

func depth(rel string) int {
	n := 1
	for _, c := range rel {
		if c == filepath.Separator {
			n++
		}
	}
	return n
}

func readReport(path string) (*evalReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep evalReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// errNoReport means no report exists for the route.
var errNoReport = errors.New("no eval report for this route")

// loadEval returns the view of the newest report for route under dir.
func loadEval(dir, route string) (*evalView, error) {
	if dir == "" {
		return nil, errNoReport
	}
	files, err := reportFiles(dir)
	if err != nil {
		return nil, err
	}
	path, ok := files[route]
	if !ok {
		return nil, errNoReport
	}
	rep, err := readReport(path)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	rel, _ := filepath.Rel(dir, path)
	v := &evalView{Route: rep.Route, File: rel, Modified: info.ModTime().UTC(), Strong: rep.Strong, Weak: rep.Weak,
		APGR: rep.APGR, CPT50: rep.CPT50, CPT80: rep.CPT80, Points: []evalPoint{}, Baselines: []evalPoint{}}
	if rep.Knob != nil {
		v.Knob = rep.Knob.Kind + "." + rep.Knob.Field
	}
	pt := func(label string, knob *float64, s evalSummary) evalPoint {
		return evalPoint{Label: label, Knob: knob, CostShare: s.CostShare, StrongShare: s.StrongShare, Quality: s.Quality, CostUSD: s.CostUSD}
	}
	v.Configured = pt("configured", nil, rep.evalSummary)
	for _, p := range rep.Points {
		k := p.Knob
		v.Points = append(v.Points, pt("point", &k, p.evalSummary))
	}
	sort.SliceStable(v.Points, func(i, j int) bool { return v.Points[i].CostShare < v.Points[j].CostShare })
	for _, b := range rep.Baselines {
		if b.Labeled == 0 {
			continue // a simulated model: no quality to plot
		}
		v.Baselines = append(v.Baselines, pt(b.Model, nil, b.evalSummary))
	}
	return v, nil
}
