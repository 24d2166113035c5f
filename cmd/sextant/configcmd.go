package main

import (
	"fmt"
	"io"

	"github.com/sextant-router/sextant/internal/config"
)

func configCmd(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: sextant config default | sextant config check FILE\n")
		return errUsage
	}
	switch args[0] {
	case "default":
		_, err := stdout.Write(config.DefaultYAML)
		return err
	case "check":
		if len(args) != 2 {
			fmt.Fprint(stderr, "usage: sextant config check FILE\n")
			return errUsage
		}
		snap, err := config.Load(args[1], config.BuildOptions{Getenv: getenv})
		if err != nil {
			for _, e := range flatten(err) {
				fmt.Fprintln(stderr, e)
			}
			return fmt.Errorf("%s is not valid", args[1])
		}
		fmt.Fprintf(stdout, "%s: ok (%d models, %d routes)\n", args[1], len(snap.Models), len(snap.Routes))
		return nil
	}
	fmt.Fprintf(stderr, "sextant config: unknown subcommand %q\n", args[0])
	return errUsage
}

// flatten lists the errors joined in err, one per config fault.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
