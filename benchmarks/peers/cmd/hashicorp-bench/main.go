// Command hashicorp-bench runs the peer workload on hashicorp/raft v1.7.3:
// three nodes in this process on loopback TCP, one Raft group (-groups
// above 1 is refused with exit code 2), raft-wal as log and stable store
// (fsync on every append), -clients closed-loop clients. It prints one JSON
// line; see ../../README.md.
package main

import (
	"os"

	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/hashicorp"
	"github.com/raftpipe/raftpipe/benchmarks/peers/internal/workload"
)

func main() {
	start := func(dir string, groups int) (workload.System, func() error, error) {
		c, err := hashicorp.Start(dir, groups)
		if err != nil {
			return nil, nil, err
		}
		return c, c.Close, nil
	}
	os.Exit(workload.Main("hashicorp", 1, start, os.Args[1:], os.Stdout, os.Stderr))
}
