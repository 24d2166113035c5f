package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes rep as one indented JSON object.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func optPct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return pct(*v)
}

func optNum(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", *v)
}

func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case math.Abs(v) < 0.01:
		return fmt.Sprintf("$%.6f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

func ms(v float64) string { return fmt.Sprintf("%.0fms", v) }

func knobText(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", v), "0"), ".")
}

// WriteTable writes rep as plain-text tables for a terminal.
func WriteTable(w io.Writer, rep *Report) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "route %s on %s: %d records (strong %s, weak %s)\n", rep.Route, filepath.Base(rep.Dataset), rep.N, rep.Strong, rep.Weak)
	if rep.ExcludedContaminated > 0 {
		fmt.Fprintf(b, "  %d contaminated records left out\n", rep.ExcludedContaminated)
	}
	s := rep.Summary
	fmt.Fprintf(b, "  quality %.4f   PGR %s   strong share %s   cost share %s\n", s.Quality, optNum(s.PGR), pct(s.StrongShare), pct(s.CostShare))
	fmt.Fprintf(b, "  cost %s (%s per request)   modeled latency p50 %s  p90 %s  p99 %s\n", usd(s.CostUSD), usd(s.CostPerRequestUSD), ms(s.LatencyMS.P50), ms(s.LatencyMS.P90), ms(s.LatencyMS.P99))
	fmt.Fprintf(b, "  labeled %d   unlabeled %d   failed %d%s   estimated answers %d\n", s.Labeled, s.Unlabeled, s.Failed, errorList(s.Errors), s.EstimatedAnswers)
	if s.Random != nil {
		fmt.Fprintf(b, "  random router at the same cost: quality %.4f (strong share %s)\n", s.Random.QualityAtCostShare, pct(s.Random.StrongShareAtCostShare))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tanswered\tcalls\tcost\tquality\t")
	for _, m := range rep.Models {
		ms := s.ByModel[m.Name]
		if ms.Calls == 0 && ms.Answered == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.Name, pct(ms.AnsweredShare), pct(ms.CallShare), usd(ms.CostUSD), optNum(ms.Quality))
	}
	tw.Flush()
	b.WriteString("\nbaselines (each model alone)\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tquality\tPGR\tcost\tcost share\tp50\tlabeled\t")
	for _, bl := range rep.Baselines {
		q := fmt.Sprintf("%.4f", bl.Quality)
		if bl.Labeled == 0 {
			q = "unlabeled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t\n", bl.Model, q, optNum(bl.PGR), usd(bl.CostUSD), pct(bl.CostShare), ms(bl.LatencyMS.P50), bl.Labeled, bl.N)
	}
	tw.Flush()
	if rr := rep.RandomRouter; rr != nil {
		fmt.Fprintf(b, "random router: APGR %.3f  CPT(50%%) %s  CPT(80%%) %s;  against cost: APGR %.3f  CPT(50%%) %s  CPT(80%%) %s\n",
			rr.APGR, pct(rr.CPT50), pct(rr.CPT80), rr.APGRCost, pct(rr.CPT50Cost), pct(rr.CPT80Cost))
	}
	if c := rep.Curve; c != nil {
		writeCurveTable(b, rep)
	}
	if rep.Learning != nil {
		writeLearningTable(b, rep.Learning)
	}
	if notes := notes(rep); len(notes) > 0 {
		b.WriteString("\nnotes\n")
		for _, n := range notes {
			fmt.Fprintf(b, "  %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCurveTable(b *strings.Builder, rep *Report) {
	c := rep.Curve
	title := "sweep"
	if rep.Knob != nil {
		title = fmt.Sprintf("sweep of %s.%s", rep.Knob.Kind, rep.Knob.Field)
	} else {
		title = "no knob: a single point"
	}
	if c.Seeds > 1 {
		title += fmt.Sprintf(" (mean of %d seeds)", c.Seeds)
	}
	fmt.Fprintf(b, "\n%s\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "knob\tstrong share\tcost share\tquality\tPGR\tcost\trandom at cost\t")
	for _, p := range c.Points {
		rnd := "n/a"
		if p.Random != nil {
			rnd = fmt.Sprintf("%.4f", p.Random.QualityAtCostShare)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%s\t%s\t%s\t\n", knobText(p.Knob), pct(p.StrongShare), pct(p.CostShare), p.Quality, optNum(p.PGR), usd(p.CostUSD), rnd)
	}
	tw.Flush()
	apgr := optNum(c.APGR)
	if c.APGRStd != nil {
		apgr += fmt.Sprintf(" ± %.3f", *c.APGRStd)
	}
	fmt.Fprintf(b, "APGR %s   CPT(50%%) %s   CPT(80%%) %s   (against strong-call share)\n", apgr, optPct(c.CPT50), optPct(c.CPT80))
	fmt.Fprintf(b, "APGR %s   CPT(50%%) %s   CPT(80%%) %s   (against cost share)\n", optNum(c.APGRCost), optPct(c.CPT50Cost), optPct(c.CPT80Cost))
	var fr []string
	for _, f := range c.Frontier {
		fr = append(fr, frontierLabel(f))
	}
	fmt.Fprintf(b, "Pareto frontier (cost share → quality): %s\n", strings.Join(fr, ", "))
}

func frontierLabel(f FrontierPoint) string {
	name := f.Label
	switch {
	case f.Model != "":
		name = f.Model
	case f.Knob != nil:
		name = f.Label + " " + knobText(*f.Knob)
	}
	return fmt.Sprintf("%s (%s → %.4f)", name, pct(f.CostShare), f.Quality)
}

func errorList(errs map[string]int) string {
	if len(errs) == 0 {
		return ""
	}
	var parts []string
	for _, k := range sortedKeys(errs) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, errs[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// notes lists what a reader must know to trust the figures.
func notes(rep *Report) []string {
	var out []string
	for _, m := range rep.Models {
		if m.Note != "" {
			out = append(out, fmt.Sprintf("%s: %s", m.Name, m.Note))
		}
	}
	for _, e := range rep.Estimates {
		if e.WithoutText > 0 {
			out = append(out, fmt.Sprintf("%s: %d of %d answers have no recorded text; each is charged the prompt's tokens and %s",
				e.RecordModel, e.WithoutText, e.WithText+e.WithoutText, e))
		}
	}
	if rep.Unlabeled > 0 {
		out = append(out, fmt.Sprintf("%d records were answered by a model without a quality label for them; quality is the mean over the %d labeled", rep.Unlabeled, rep.Labeled))
	}
	return out
}

// WriteMarkdown writes rep as a Markdown report; images, when not empty,
// are plot files to link.
func WriteMarkdown(w io.Writer, rep *Report, images []string) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Evaluation of route `%s`\n\n", rep.Route)
	fmt.Fprintf(b, "Data set `%s`, %d records", rep.Dataset, rep.N)
	if rep.ExcludedContaminated > 0 {
		fmt.Fprintf(b, " (%d contaminated left out)", rep.ExcludedContaminated)
	}
	fmt.Fprintf(b, "; strong model `%s`, weak model `%s`", rep.Strong, rep.Weak)
	if rep.Config != "" {
		fmt.Fprintf(b, "; config `%s`", rep.Config)
	}
	b.WriteString(".\n\n")
	s := rep.Summary
	b.WriteString("| n | quality | PGR | strong share | cost share | cost | per request | latency p50 / p90 / p99 | labeled | unlabeled | failed |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(b, "| %d | %.4f | %s | %s | %s | %s | %s | %s / %s / %s | %d | %d | %d%s |\n\n", s.N, s.Quality, optNum(s.PGR), pct(s.StrongShare), pct(s.CostShare),
		usd(s.CostUSD), usd(s.CostPerRequestUSD), ms(s.LatencyMS.P50), ms(s.LatencyMS.P90), ms(s.LatencyMS.P99), s.Labeled, s.Unlabeled, s.Failed, errorList(s.Errors))
	if s.Random != nil {
		fmt.Fprintf(b, "A random router at the same cost share reaches quality %.4f.\n\n", s.Random.QualityAtCostShare)
	}
	b.WriteString("## Models\n\n| model | answered | calls | cost | quality |\n|---|---|---|---|---|\n")
	for _, m := range rep.Models {
		ms := s.ByModel[m.Name]
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", m.Name, pct(ms.AnsweredShare), pct(ms.CallShare), usd(ms.CostUSD), optNum(ms.Quality))
	}
	b.WriteString("\n## Baselines\n\n| model | quality | PGR | cost | cost share | latency p50 | labeled |\n|---|---|---|---|---|---|---|\n")
	for _, bl := range rep.Baselines {
		fmt.Fprintf(b, "| %s | %.4f | %s | %s | %s | %s | %d/%d |\n", bl.Model, bl.Quality, optNum(bl.PGR), usd(bl.CostUSD), pct(bl.CostShare), ms(bl.LatencyMS.P50), bl.Labeled, bl.N)
	}
	if rr := rep.RandomRouter; rr != nil {
		fmt.Fprintf(b, "\nRandom router (expected): APGR %.3f, CPT(50%%) %s, CPT(80%%) %s against strong-call share; APGR %.3f, CPT(50%%) %s, CPT(80%%) %s against cost share.\n",
			rr.APGR, pct(rr.CPT50), pct(rr.CPT80), rr.APGRCost, pct(rr.CPT50Cost), pct(rr.CPT80Cost))
	}
	if c := rep.Curve; c != nil {
		b.WriteString("\n## Sweep\n\n")
		if rep.Knob != nil {
			fmt.Fprintf(b, "Knob `%s.%s`", rep.Knob.Kind, rep.Knob.Field)
			if c.Seeds > 1 {
				fmt.Fprintf(b, ", each point the mean of %d seeds", c.Seeds)
			}
			b.WriteString(".\n\n")
		}
		b.WriteString("| knob | strong share | cost share | quality | PGR | cost | random at cost |\n|---|---|---|---|---|---|---|\n")
		for _, p := range c.Points {
			rnd := "n/a"
			if p.Random != nil {
				rnd = fmt.Sprintf("%.4f", p.Random.QualityAtCostShare)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %.4f | %s | %s | %s |\n", knobText(p.Knob), pct(p.StrongShare), pct(p.CostShare), p.Quality, optNum(p.PGR), usd(p.CostUSD), rnd)
		}
		apgr := optNum(c.APGR)
		if c.APGRStd != nil {
			apgr += fmt.Sprintf(" ± %.3f", *c.APGRStd)
		}
		b.WriteString("\n| against | APGR | CPT(50%) | CPT(80%) |\n|---|---|---|---|\n")
		fmt.Fprintf(b, "| strong-call share | %s | %s | %s |\n", apgr, optPct(c.CPT50), optPct(c.CPT80))
		fmt.Fprintf(b, "| cost share | %s | %s | %s |\n", optNum(c.APGRCost), optPct(c.CPT50Cost), optPct(c.CPT80Cost))
		b.WriteString("\nPareto frontier, by cost share: ")
		var fr []string
		for _, f := range c.Frontier {
			fr = append(fr, frontierLabel(f))
		}
		b.WriteString(strings.Join(fr, ", ") + ".\n")
	}
	if rep.Learning != nil {
		writeLearningMarkdown(b, rep.Learning)
	}
	if len(images) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, img := range images {
			fmt.Fprintf(b, "![%s](%s)\n\n", img, img)
		}
	}
	if n := notes(rep); len(n) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, line := range n {
			fmt.Fprintf(b, "- %s\n", line)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCalibration writes a calibration as text (the config line first)
// or as JSON.
func WriteCalibration(w io.Writer, c *Calibration, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s\n\n", c.Line)
	fmt.Fprintf(b, "  %s: {%s}\n\n", c.Route, strings.TrimSuffix(strings.TrimPrefix(string(c.RouteConfig), "{"), "}"))
	s := c.Summary
	fmt.Fprintf(b, "target %s %s, achieved %s with %s.%s = %s (%d evaluations over %d records)\n", c.Target.Metric, pct(c.Target.Value), pct(c.Achieved),
		c.Kind, c.Field, knobText(c.Knob), c.Evaluations, s.N)
	fmt.Fprintf(b, "quality %.4f   PGR %s   strong share %s   cost share %s   cost %s (strong %s, weak %s)\n",
		s.Quality, optNum(s.PGR), pct(s.StrongShare), pct(s.CostShare), usd(s.CostUSD), c.Strong, c.Weak)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteLogReport writes a decision-log summary as a table, Markdown or
// JSON.
func WriteLogReport(w io.Writer, r *LogReport, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	b := &strings.Builder{}
	scope := "all routes"
	if r.Route != "" {
		scope = "route " + r.Route
	}
	quality := "n/a (no feedback scores)"
	if r.Quality != nil {
		quality = fmt.Sprintf("%.4f (mean feedback score of %d requests)", *r.Quality, r.WithFeedback)
	}
	md := format == "markdown"
	if md {
		fmt.Fprintf(b, "# Logged traffic of %s in `%s`\n\n", scope, r.Source)
	} else {
		fmt.Fprintf(b, "logged traffic of %s in %s\n", scope, r.Source)
	}
	fmt.Fprintf(b, "  requests %d   failed %d   quality %s\n", r.N, r.Failed, quality)
	fmt.Fprintf(b, "  cost %s (%s per request)   latency p50 %s  p90 %s  p99 %s\n\n", usd(r.CostUSD), usd(r.CostPerRequestUSD), ms(r.LatencyMS.P50), ms(r.LatencyMS.P90), ms(r.LatencyMS.P99))
	if md {
		b.WriteString("| model | answered | calls | cost | feedback |\n|---|---|---|---|---|\n")
		for _, name := range sortedKeys(r.ByModel) {
			m := r.ByModel[name]
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", name, pct(m.AnsweredShare), pct(m.CallShare), usd(m.CostUSD), optNum(m.Quality))
		}
	} else {
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "model\tanswered\tcalls\tcost\tfeedback\t")
		for _, name := range sortedKeys(r.ByModel) {
			m := r.ByModel[name]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, pct(m.AnsweredShare), pct(m.CallShare), usd(m.CostUSD), optNum(m.Quality))
		}
		tw.Flush()
	}
	fmt.Fprintf(b, "\nnote: %s.\n", r.Rerun)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRerunReport writes a re-run of logged traffic, side by side with
// the traffic as logged, as a table, Markdown or JSON.
func WriteRerunReport(w io.Writer, r *RerunReport, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	md := format == "markdown"
	b := &strings.Builder{}
	scope := "all routes"
	if r.LogRoute != "" {
		scope = "route " + r.LogRoute
	}
	if md {
		fmt.Fprintf(b, "# Logged traffic of %s in `%s` re-run through route `%s` of `%s`\n\n", scope, r.Source, r.Route, r.Config)
	} else {
		fmt.Fprintf(b, "logged traffic of %s in %s re-run through route %s of %s\n", scope, r.Source, r.Route, r.Config)
	}
	fmt.Fprintf(b, "  %d requests re-run, %d decisions without a logged request skipped; %d answered by the logged model again\n\n", r.Rerun.N, r.Skipped, r.SameModel)
	l, s := r.Logged, &r.Rerun
	lq := "n/a"
	if l.Quality != nil {
		lq = fmt.Sprintf("%.4f (%d scored)", *l.Quality, l.WithFeedback)
	}
	sq := "n/a"
	if s.Labeled > 0 {
		sq = fmt.Sprintf("%.4f (%d labeled, %d unlabeled)", s.Quality, s.Labeled, s.Unlabeled)
	}
	failed := fmt.Sprint(s.Failed)
	if len(s.Errors) > 0 {
		failed += " (" + errorList(s.Errors) + ")"
	}
	side := [][3]string{
		{"requests", fmt.Sprint(l.N), fmt.Sprint(s.N)},
		{"failed", fmt.Sprint(l.Failed), failed},
		{"quality", lq, sq},
		{"cost", usd(l.CostUSD), usd(s.CostUSD)},
		{"cost per request", usd(l.CostPerRequestUSD), usd(s.CostPerRequestUSD)},
		{"latency p50", ms(l.LatencyMS.P50), ms(s.LatencyMS.P50)},
		{"latency p90", ms(l.LatencyMS.P90), ms(s.LatencyMS.P90)},
		{"latency p99", ms(l.LatencyMS.P99), ms(s.LatencyMS.P99)},
	}
	models := map[string]bool{}
	for name := range l.ByModel {
		models[name] = true
	}
	for name := range s.ByModel {
		models[name] = true
	}
	if md {
		b.WriteString("| | logged | re-run |\n|---|---|---|\n")
		for _, row := range side {
			fmt.Fprintf(b, "| %s | %s | %s |\n", row[0], row[1], row[2])
		}
		b.WriteString("\n| model | logged answered | logged calls | logged cost | re-run answered | re-run calls | re-run cost |\n|---|---|---|---|---|---|---|\n")
		for _, name := range sortedKeys(models) {
			lm, sm := l.ByModel[name], s.ByModel[name]
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", name, pct(lm.AnsweredShare), pct(lm.CallShare), usd(lm.CostUSD),
				pct(sm.AnsweredShare), pct(sm.CallShare), usd(sm.CostUSD))
		}
	} else {
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\tlogged\tre-run\t")
		for _, row := range side {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\n", row[0], row[1], row[2])
		}
		tw.Flush()
		b.WriteString("\n")
		tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "model\tlogged answered\tcalls\tcost\tre-run answered\tcalls\tcost\t")
		for _, name := range sortedKeys(models) {
			lm, sm := l.ByModel[name], s.ByModel[name]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, pct(lm.AnsweredShare), pct(lm.CallShare), usd(lm.CostUSD),
				pct(sm.AnsweredShare), pct(sm.CallShare), usd(sm.CostUSD))
		}
		tw.Flush()
	}
	fmt.Fprintf(b, "\nnote: %s.\n", r.Note)
	_, err := io.WriteString(w, b.String())
	return err
}
