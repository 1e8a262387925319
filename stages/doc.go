// Package stages is the pipeline every request of a host flows through:
// MPSC ring-buffer stages (propose, batch, step, replicate, fsync, apply),
// each draining whatever is waiting in one go, with consensus between
// replicate and commit (DESIGN.md, "How a write flows").
//
// Built so far: the batch stage (proposals grouped by Raft group and cut
// at byte and entry limits), the replicate stage (messages handed to the
// transport per destination, one Send per drain), the fsync stage (every
// group's pending writes in one logstore write and one sync, then
// "persisted" acknowledgements to the step workers), and the statistics
// every stage keeps. The step workers, the apply stage, the read path and
// the host that wires them come next.
package stages
