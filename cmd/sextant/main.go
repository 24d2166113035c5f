// Command sextant is the Sextant LLM router and gateway.
//
//	sextant serve [--config FILE] [--addr HOST:PORT]
//	sextant config default
//	sextant config check FILE
//	sextant eval --config FILE --route NAME --dataset FILE.jsonl [--sweep [SPEC]]
//	sextant calibrate --config FILE --route NAME --dataset FILE.jsonl --target-strong-share X
//	sextant top [--addr URL] [--window 5m]
//	sextant train --kind classifier|winrate|gate --data FILE [--data FILE ...] --out MODEL
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Sextant routes each LLM request to the model that serves it best.

Usage:
  sextant serve [--config FILE] [--addr HOST:PORT]   serve the API (default 127.0.0.1:8080, or SEXTANT_ADDR)
  sextant config default                             print the embedded default config
  sextant config check FILE                          validate a config file
  sextant eval --config FILE --route NAME --dataset FILE.jsonl [--sweep [SPEC]] [--format table|json|markdown] [--out DIR]
                                                     evaluate a route offline on recorded answers
  sextant calibrate --config FILE --route NAME --dataset FILE.jsonl --target-strong-share X
                                                     find the knob value that hits a strong-call or cost share
  sextant top [--addr URL] [--window 5m] [--interval 2s] [--once]
                                                     live numbers of a running server in the terminal
                                                     (admin key from SEXTANT_ADMIN_KEY)
  sextant train --kind classifier|winrate|gate --data FILE [--data FILE ...] --out MODEL [--folds 5] [--valid 0.2]
                                                     train a classifier, win-rate or gate model from recorded data,
                                                     labelled text or the decision log with feedback
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// errUsage marks a wrong invocation (exit status 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr, getenv)
	case "config":
		err = configCmd(args[1:], stdout, stderr, getenv)
	case "eval":
		err = evalCmd(ctx, args[1:], stdout, stderr)
	case "calibrate":
		err = calibrateCmd(ctx, args[1:], stdout, stderr)
	case "top":
		err = topCmd(ctx, args[1:], stdout, stderr, getenv)
	case "train":
		err = trainCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sextant: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "sextant: %v\n", err)
		return 1
	}
}
