package eval

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// learningHeader says what the learning section measures.
func learningHeader(l *Learning) string {
	s := fmt.Sprintf("online learning: %s over the records in order, reward = quality − %g·cost_usd − %g·latency_s (quality from feedback %g..%g), feedback %d request(s) later",
		l.Node, l.Lambda, l.Mu, l.FeedbackMin, l.FeedbackMax, l.FeedbackDelay)
	if l.Seeds > 1 {
		s += fmt.Sprintf(", mean of %d seeds", l.Seeds)
	}
	return s
}

// learningRows are the checkpoint table's rows: header first.
func learningRows(l *Learning) [][]string {
	rows := [][]string{{"requests", "quality", "cost", "reward", "best arm", "its quality", "its cost", "its reward", "oracle quality", "oracle cost", "oracle reward", "regret vs arm", "regret vs oracle"}}
	for _, cp := range l.Checkpoints {
		reward := fmt.Sprintf("%.2f", cp.Route.Reward)
		if l.Seeds > 1 {
			reward += fmt.Sprintf(" [%.2f, %.2f]", cp.RewardMin, cp.RewardMax)
		}
		rows = append(rows, []string{fmt.Sprint(cp.Requests),
			fmt.Sprintf("%.4f", cp.Route.Quality), usd(cp.Route.CostUSD), reward,
			cp.FixedArm, fmt.Sprintf("%.4f", cp.Fixed.Quality), usd(cp.Fixed.CostUSD), fmt.Sprintf("%.2f", cp.Fixed.Reward),
			fmt.Sprintf("%.4f", cp.Oracle.Quality), usd(cp.Oracle.CostUSD), fmt.Sprintf("%.2f", cp.Oracle.Reward),
			fmt.Sprintf("%.2f", cp.RegretFixed), fmt.Sprintf("%.2f", cp.RegretOracle)})
	}
	return rows
}

func armRows(l *Learning) [][]string {
	rows := [][]string{{"arm alone", "quality", "cost", "reward", "per request"}}
	for _, a := range l.Arms {
		name := a.Arm
		if a.Arm == l.BestArm {
			name += " (best)"
		}
		rows = append(rows, []string{name, fmt.Sprintf("%.4f", a.Quality), usd(a.CostUSD), fmt.Sprintf("%.2f", a.Reward), fmt.Sprintf("%.4f", a.RewardPerRequest)})
	}
	return rows
}

// writeLearningTable writes the learning section as plain-text tables.
func writeLearningTable(b *strings.Builder, l *Learning) {
	fmt.Fprintf(b, "\n%s\n", learningHeader(l))
	for _, rows := range [][][]string{learningRows(l), armRows(l)} {
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
		}
		tw.Flush()
	}
	b.WriteString("regret: the reward the arm best over those requests (alone), or the per-request best arm (oracle), would have got beyond the route's\n")
}

// writeLearningMarkdown writes the learning section as Markdown.
func writeLearningMarkdown(b *strings.Builder, l *Learning) {
	fmt.Fprintf(b, "\n## Online learning\n\n%s.\n\n", strings.ToUpper(learningHeader(l)[:1])+learningHeader(l)[1:])
	for _, rows := range [][][]string{learningRows(l), armRows(l)} {
		fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(rows[0], " | "), strings.Repeat("---|", len(rows[0])))
		for _, r := range rows[1:] {
			fmt.Fprintf(b, "| %s |\n", strings.Join(r, " | "))
		}
		b.WriteString("\n")
	}
	b.WriteString("Regret is the reward the arm best over those requests (alone), or the per-request best arm (oracle), would have got beyond the route's.\n")
}
