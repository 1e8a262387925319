// Command dragonboat-bench runs the peer workload on Dragonboat v3.3.8:
// three NodeHosts in this process on loopback TCP, -groups Raft groups of
// three replicas, fsync on (Dragonboat's default LogDB), -clients
// closed-loop clients. It prints one JSON line; see ../../README.md.
package main

import (
	"os"

	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/dragonboat"
	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/workload"
)

func main() {
	start := func(dir string, groups int) (workload.System, func() error, error) {
		c, err := dragonboat.Start(dir, groups)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	}
	os.Exit(workload.Main("dragonboat", 0, start, os.Args[1:], os.Stdout, os.Stderr))
}
