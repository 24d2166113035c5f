package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sextant-router/sextant/internal/eval"
	_ "github.com/sextant-router/sextant/internal/kinds"
)

const evalUsage = `usage: sextant eval --config FILE --route NAME --dataset FILE.jsonl [flags]
       sextant eval --from-log DB [--route NAME] [flags]
       sextant eval --from-log DB --config FILE --route NAME [--log-route NAME] [flags]

Runs every record of a recorded data set through a route of the config, on
the engine that serves traffic, with every model replaced by a replay of
the data set, and reports quality, cost, call shares, modeled latency, each
model alone and the random router. --sweep walks the route's knob.

A route holding a learning node (a bandit, a split with a promote rule)
runs as an online-learning simulation: records in order, each record's
recorded quality given as feedback after its answer (--concurrency N
delays it by N records). With a bandit the report adds its cumulative
quality, cost and reward after 500, 1,000 and all requests against each
arm alone and the oracle, and --out draws the learning curve; --seeds N
runs it over the bandit's seeds 0..N-1 and shows their range.

--from-log summarises the traffic of a decision log; with --config it
re-runs the logged requests (those logged with store.log_requests) through
--route of that config and reports both side by side.

flags:
`

const calibrateUsage = `usage: sextant calibrate --config FILE --route NAME --dataset FILE.jsonl (--target-strong-share X | --target-cost-share X) [flags]

Finds the value of the route's knob at which its strong-call share (or its
cost share) is closest to the target, and prints the config line to use.

flags:
`

// sweepFlag is --sweep with an optional value: alone it sweeps the kind's
// default range, with a value (--sweep=SPEC or --sweep SPEC) that spec.
type sweepFlag struct {
	on     bool
	values []float64
}

func (s *sweepFlag) String() string { return "" }

func (s *sweepFlag) IsBoolFlag() bool { return true }

func (s *sweepFlag) Set(v string) error {
	switch v {
	case "true":
		s.on, s.values = true, nil
		return nil
	case "false":
		s.on = false
		return nil
	}
	values, err := eval.ParseSpec(v)
	if err != nil {
		return err
	}
	s.on, s.values = true, values
	return nil
}

// joinSweep turns "--sweep SPEC" into "--sweep=SPEC" when the word after
// --sweep is a spec, since a flag with an optional value cannot take a
// separate word by itself.
func joinSweep(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "--sweep" || a == "-sweep") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			if _, err := eval.ParseSpec(args[i+1]); err == nil {
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// commonFlags are the flags eval and calibrate share.
type commonFlags struct {
	config, route, dataset, strong, weak string
	concurrency, limit, outputTokens     int
	excludeContaminated                  bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "config `FILE` (required)")
	fs.StringVar(&c.route, "route", "", "route `NAME` to evaluate, or a model name (required)")
	fs.StringVar(&c.dataset, "dataset", "", "recorded data `FILE`.jsonl (or a directory of them) every model answers from (required)")
	fs.StringVar(&c.strong, "strong", "", "strong `MODEL` for PGR and cost share (default: the labeled model costing most alone)")
	fs.StringVar(&c.weak, "weak", "", "weak `MODEL` (default: the labeled model costing least alone)")
	fs.IntVar(&c.concurrency, "concurrency", 0, "records in flight (default GOMAXPROCS×4); for a learning route, the feedback delay in records (default 1)")
	fs.IntVar(&c.limit, "limit", 0, "evaluate only the first `N` records")
	fs.IntVar(&c.outputTokens, "output-tokens", 0, "output tokens charged for an answer without recorded text (default: estimated from the data set)")
	fs.BoolVar(&c.excludeContaminated, "exclude-contaminated", false, "leave out records marked contaminated, as RouteLLM's evaluation does")
}

func (c *commonFlags) options(stderr io.Writer) (eval.Options, *progress, error) {
	var opts eval.Options
	if c.config == "" || c.route == "" || c.dataset == "" {
		return opts, nil, fmt.Errorf("--config, --route and --dataset are required: %w", errUsage)
	}
	if err := eval.Load(c.config, &opts); err != nil {
		return opts, nil, err
	}
	opts.Route, opts.Dataset, opts.Strong, opts.Weak = c.route, c.dataset, c.strong, c.weak
	opts.Concurrency, opts.Limit, opts.OutputTokens, opts.ExcludeContaminated = c.concurrency, c.limit, c.outputTokens, c.excludeContaminated
	p := newProgress(stderr)
	if p != nil {
		opts.Progress = p.update
	}
	return opts, p, nil
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

func evalCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", evalUsage, stderr)
	var c commonFlags
	c.register(fs)
	var sweep sweepFlag
	fs.Var(&sweep, "sweep", "sweep the route's knob over the kind's default range, or over `SPEC`: LO:HI:STEP, LO:HI/N or V1,V2,...")
	seeds := fs.Int("seeds", 1, "average each sweep point of a randomized kind (split) over `N` seeds; for a bandit route, run the learning simulation over N seeds")
	format := fs.String("format", "table", "output: table, json or markdown")
	out := fs.String("out", "", "write report.json, report.md and PNG/SVG plots to `DIR`")
	fromLog := fs.String("from-log", "", "summarise a decision log `DB` (SQLite); with --config, re-run its requests through --route")
	logRoute := fs.String("log-route", "", "with --from-log and --config: re-run only the requests logged for route `NAME`")
	if err := fs.Parse(joinSweep(args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sextant eval: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	switch *format {
	case "table", "json", "markdown":
	default:
		fmt.Fprintf(stderr, "sextant eval: unknown --format %q (table, json or markdown)\n", *format)
		return errUsage
	}
	if *fromLog != "" {
		return fromLogCmd(ctx, *fromLog, *logRoute, &c, *format, stdout)
	}
	opts, prog, err := c.options(stderr)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "sextant eval: %v\n", err)
		fs.Usage()
		return err
	}
	if err != nil {
		return err
	}
	opts.Seeds = *seeds
	ev, err := eval.New(opts)
	if err != nil {
		return err
	}
	var sw *eval.Sweep
	if sweep.on {
		sw = &eval.Sweep{Values: sweep.values, Seeds: *seeds}
	}
	rep, err := ev.Evaluate(ctx, sw)
	prog.done()
	if err != nil {
		return err
	}
	if *out != "" {
		files, err := eval.WriteDir(*out, rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", strings.Join(files, ", "))
	}
	switch *format {
	case "json":
		return eval.WriteJSON(stdout, rep)
	case "markdown":
		return eval.WriteMarkdown(stdout, rep, nil)
	}
	return eval.WriteTable(stdout, rep)
}

// fromLogCmd summarises the logged traffic of a decision log (of --route,
// or all), or with --config re-runs its logged requests through --route of
// that config.
func fromLogCmd(ctx context.Context, db, logRoute string, c *commonFlags, format string, stdout io.Writer) error {
	if c.dataset != "" {
		return errors.New("--from-log takes no --dataset: the requests come from the log")
	}
	if c.config != "" {
		if c.route == "" {
			return errors.New("--from-log with --config needs --route, the route to re-run the logged requests through")
		}
		var opts eval.Options
		if err := eval.Load(c.config, &opts); err != nil {
			return err
		}
		rep, err := eval.Rerun(ctx, db, eval.RerunOptions{
			File: opts.File, BaseDir: opts.BaseDir, ConfigName: opts.ConfigName,
			Route: c.route, LogRoute: logRoute, Concurrency: c.concurrency, Limit: c.limit,
		})
		if err != nil {
			return err
		}
		return eval.WriteRerunReport(stdout, rep, format)
	}
	if logRoute != "" {
		return errors.New("--log-route needs --config; without it --route filters the log")
	}
	rep, err := eval.FromLog(ctx, db, c.route)
	if err != nil {
		return err
	}
	return eval.WriteLogReport(stdout, rep, format)
}

func calibrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate", calibrateUsage, stderr)
	var c commonFlags
	c.register(fs)
	strong := fs.Float64("target-strong-share", -1, "the strong-call share to hit, in [0,1]")
	cost := fs.Float64("target-cost-share", -1, "the cost share (cost over strong-only cost) to hit, in [0,1]")
	format := fs.String("format", "text", "output: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	var target eval.Target
	switch {
	case *strong >= 0 && *cost >= 0:
		fmt.Fprintln(stderr, "sextant calibrate: give one of --target-strong-share and --target-cost-share")
		return errUsage
	case *strong >= 0:
		target = eval.Target{Metric: eval.MetricStrongShare, Value: *strong}
	case *cost >= 0:
		target = eval.Target{Metric: eval.MetricCostShare, Value: *cost}
	default:
		fmt.Fprintln(stderr, "sextant calibrate: --target-strong-share or --target-cost-share is required")
		fs.Usage()
		return errUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "sextant calibrate: unknown --format %q (text or json)\n", *format)
		return errUsage
	}
	opts, prog, err := c.options(stderr)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "sextant calibrate: %v\n", err)
		fs.Usage()
		return err
	}
	if err != nil {
		return err
	}
	ev, err := eval.New(opts)
	if err != nil {
		return err
	}
	cal, err := ev.Calibrate(ctx, target)
	prog.done()
	if err != nil {
		return err
	}
	return eval.WriteCalibration(stdout, cal, *format == "json")
}

// progress draws a progress bar on a terminal.
type progress struct {
	w     io.Writer
	mu    sync.Mutex
	last  time.Time
	start time.Time
	drawn bool
}

// newProgress returns a progress bar on stderr when it is a terminal, or
// nil.
func newProgress(stderr io.Writer) *progress {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progress{w: stderr, start: time.Now()}
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	full := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d/%d records  %s ", strings.Repeat("#", full), strings.Repeat(".", width-full),
		100*frac, done, total, now.Sub(p.start).Truncate(100*time.Millisecond))
	p.drawn = true
}

func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
