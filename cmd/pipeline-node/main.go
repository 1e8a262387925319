// Command pipeline-node is the replicated key/value service built on
// raftpipe: one binary that serves the Pebble key/value state machine to
// Redis clients, with an HTTP admin API and Prometheus metrics.
//
//	pipeline-node [--config FILE] [--KEY VALUE ...]   run a node
//	pipeline-node check-config FILE                   validate a config and exit
//	pipeline-node config-reference                    print every key, its default and meaning
//
// With no file and no flags it runs a single-node cluster on loopback,
// data in ./pipeline-data. Every key of the TOML file is also a flag
// (--raft.election-ticks 20) that overrides it. A config that cannot run
// exits with status 2 and an error naming the key.
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit code: 0, 1 when the node
// failed, 2 for a bad command line or config.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "pipeline-node: %v\n", err)
		if errors.Is(err, errUsage) || errors.Is(err, errConfig) {
			return 2
		}
		return 1
	}
	if len(args) > 0 {
		switch args[0] {
		case "check-config":
			if len(args) != 2 {
				return fail(fmt.Errorf("%w: check-config FILE", errUsage))
			}
			if _, err := loadAndValidate([]string{"--config", args[1]}, stderr); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "%s: ok\n", args[1])
			return 0
		case "config-reference":
			fmt.Fprint(stdout, reference())
			return 0
		}
	}
	cfg, err := loadAndValidate(args, stderr)
	if err != nil {
		return fail(err)
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		return fail(err)
	}
	return 0
}

func loadAndValidate(args []string, stderr io.Writer) (nodeConfig, error) {
	cfg, err := loadConfig(args, stderr)
	if err != nil {
		if !errors.Is(err, errUsage) {
			err = fmt.Errorf("%w: %w", errConfig, err)
		}
		return nodeConfig{}, err
	}
	return cfg, cfg.validate()
}
