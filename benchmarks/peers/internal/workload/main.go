package workload

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Starter starts a system of groups Raft groups under dir, an existing
// directory the system owns, and returns it with the function that stops it.
type Starter func(dir string, groups int) (sys System, stop func() error, err error)

// Main is the whole of a peer command: flags, the data directory, the run,
// the JSON line on stdout, a summary on stderr. It returns the exit code: 0,
// 1 for a failed run, 2 for bad flags. maxGroups > 0 caps -groups (a
// single-group library).
func Main(system string, maxGroups int, start Starter, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(system+"-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{}
	fs.IntVar(&cfg.Payload, "payload", 16, "bytes per write")
	fs.IntVar(&cfg.Clients, "clients", 64, "closed-loop clients, one write at a time each; client i writes to group i % groups")
	fs.IntVar(&cfg.Groups, "groups", 1, "Raft groups, each of 3 replicas")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before the measured window, not counted")
	dir := fs.String("dir", "", "data directory (default: a new temporary directory, removed at exit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s-bench: unexpected arguments %q\n", system, fs.Args())
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "%s-bench: %v\n", system, err)
		return 2
	}
	if maxGroups > 0 && cfg.Groups > maxGroups {
		fmt.Fprintf(stderr, "%s-bench: -groups %d: %s runs a single Raft group (at most %d)\n",
			system, cfg.Groups, system, maxGroups)
		return 2
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", system+"-bench-")
		if err != nil {
			fmt.Fprintf(stderr, "%s-bench: %v\n", system, err)
			return 1
		}
		defer os.RemoveAll(d)
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "%s-bench: %v\n", system, err)
		return 1
	}

	sys, stop, err := start(*dir, cfg.Groups)
	if err != nil {
		fmt.Fprintf(stderr, "%s-bench: start: %v\n", system, err)
		return 1
	}
	res, st, err := Run(system, sys, cfg)
	if serr := stop(); serr != nil {
		fmt.Fprintf(stderr, "%s-bench: stop: %v\n", system, serr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s-bench: %v\n", system, err)
		return 1
	}
	fmt.Fprintf(stderr, "%s-bench: %s\n", system, st)
	if st.Ops == 0 {
		fmt.Fprintf(stderr, "%s-bench: no operation completed in the measured window\n", system)
		return 1
	}
	if err := res.WriteJSON(stdout); err != nil {
		fmt.Fprintf(stderr, "%s-bench: %v\n", system, err)
		return 1
	}
	return 0
}
