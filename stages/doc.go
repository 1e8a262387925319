// Package stages is the pipeline every request of a host flows through:
// MPSC ring-buffer stages (propose, batch, step, replicate, fsync, apply),
// each draining whatever is waiting in one go, with consensus between
// replicate and commit (DESIGN.md, "How a write flows").
//
//   - The batch stage (batch.go) drains the propose ring that client
//     goroutines publish into and cuts each group's proposals into batches
//     at entry and byte limits, with no timer.
//   - Step workers (worker.go) own the consensus cores of their share of
//     the groups. Proposals, inbound messages and group starts reach a
//     worker through its ring; persist and apply acknowledgements and
//     ticks through its inbox, because the stages downstream must never
//     wait on a worker that may be waiting on them. At the end of a drain
//     a worker takes every dirty group's Ready and submits its parts, one
//     submission per stage.
//   - The replicate stage (replicate.go) hands messages to the transport,
//     one Send per drain, beside the fsync stage (fsync.go), which writes
//     every group's entries and hard states with one logstore write and one
//     sync and only then acknowledges them: a follower answers, and a
//     leader counts itself, only after its fsync.
//   - The apply stage (apply.go) applies committed entries to the state
//     machines, one Update per group per drain, and completes the callers.
//   - The read path (read.go) runs beside them. A lease read checks the
//     leader's lease, which the worker publishes as a time on the host's
//     clock, from an atomic, and waits for apply to reach the commit index:
//     it never enters the worker. Other reads go through the worker, which
//     issues one ReadIndex request for all the reads of a group that
//     arrived while no round was in flight, and the read waits outside the
//     worker for its index to be applied.
//   - Rare operations (membership changes, leader transfer, stopping a
//     group) run on the worker as calls (control.go).
//   - The snapshot stage (snapshot.go) writes the snapshots the apply
//     stage captures between drains, off the apply path, and has the fsync
//     stage compact the logs behind them.
//   - Every stage counts what it does for the metrics layer, with atomics
//     and log2 histograms read only at scrape (stats.go; elections, leader
//     changes and refused proposals in consensus_stats.go, snapshots in
//     snapshot_stats.go, the groups as a whole in census.go): an atomic
//     add per drain or per event, never per entry, and no Prometheus
//     object on any path.
//
// Engine (engine.go) wires them for one host; the root package's Host
// adds the log, the transport and the ticks.
package stages
