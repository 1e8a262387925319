// Command pipeline-bench runs the peers' closed-loop write workload
// (benchmarks/peers) on raftpipe: three Hosts in this process on loopback
// TCP, each with its own write-ahead log (fsync on, the default), -groups
// Raft groups with a MemKV on all three, -clients clients each proposing
// -payload-byte values to the current leader of group i % G. It takes the
// peers' flags, prints their JSON line with system "raftpipe" and exits as
// they do: 0, 1 for a failed run, 2 for bad flags. -v logs to stderr.
//
//	pipeline-bench -payload 16 -clients 64 -groups 16 -duration 10s -warmup 2s
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const name = "raftpipe"

// run is the whole command, as the peers' workload.Main: flags, the data
// directory, the run, the JSON line on stdout, a summary on stderr. It
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipeline-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.IntVar(&cfg.Payload, "payload", 16, "bytes per write")
	fs.IntVar(&cfg.Clients, "clients", 64, "closed-loop clients, one write at a time each; client i writes to group i % groups")
	fs.IntVar(&cfg.Groups, "groups", 1, "Raft groups, each of 3 replicas")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before the measured window, not counted")
	dir := fs.String("dir", "", "data directory (default: a new temporary directory, removed at exit)")
	verbose := fs.Bool("v", false, "log the hosts' info messages to stderr")
	noSnapshots := fs.Bool("no-snapshots", false, "turn the snapshot policy off (Config.NoSnapshots), to measure what it costs")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured window (warm-up excluded) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stderr, "pipeline-bench: "+format+"\n", args...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, "unexpected arguments %q", fs.Args())
	}
	if err := cfg.validate(); err != nil {
		return fail(2, "%v", err)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "pipeline-bench-")
		if err != nil {
			return fail(1, "%v", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fail(1, "%v", err)
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	c, err := startCluster(*dir, cfg.Groups, *noSnapshots, log)
	if err != nil {
		return fail(1, "start: %v", err)
	}
	if *cpuProfile != "" {
		cfg.onWindow = profileWindow(*cpuProfile, stderr)
	}
	res, st, err := drive(name, c, cfg)
	// A host that failed mid-run (a log that could not sync) left the
	// figures meaningless; read it before Stop, which reports it as well.
	if err == nil {
		err = c.failed()
	}
	if serr := c.close(); serr != nil {
		fmt.Fprintf(stderr, "pipeline-bench: stop: %v\n", serr)
	}
	if err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stderr, "pipeline-bench: %s\n", st)
	if st.Ops == 0 {
		return fail(1, "no operation completed in the measured window")
	}
	if err := res.writeJSON(stdout); err != nil {
		return fail(1, "%v", err)
	}
	return 0
}

// profileWindow returns the hook that profiles the measured window into
// path: called with true when the window opens and false when it closes.
func profileWindow(path string, stderr io.Writer) func(open bool) {
	var f *os.File
	return func(open bool) {
		if open {
			var err error
			if f, err = os.Create(path); err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Fprintf(stderr, "pipeline-bench: cpu profile: %v\n", err)
				f = nil
			}
			return
		}
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
}
