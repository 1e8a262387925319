// Package consensus is the Raft core of one group, as a deterministic value.
//
// A Core never starts a goroutine, never touches a disk, a socket or the
// clock: time arrives as Tick, messages arrive through Step, and every call
// leaves behind work that Ready hands out as data — messages to send,
// entries and hard state to persist, committed entries to apply, read
// states that are ready, a snapshot to install. The stages do that work in
// parallel and acknowledge it separately (Persisted, Applied,
// SnapshotInstalled), which is what lets the leader send its appends before
// its own fsync completes (Raft thesis §10.2.1) while still counting itself
// toward a quorum only once its copy is durable.
//
// What it implements, each in its own file: elections with pre-vote and
// check-quorum (election.go); per-follower progress with pipelining bounded
// by an in-flight window (progress.go, inflights.go, replicate.go); the
// follower's side of the log (follow.go); ReadIndex rounds shared by many
// reads and leader leases (read.go, lease.go); leader transfer
// (transfer.go); learners and single-voter membership changes
// (membership.go); and the log itself, split between entries not yet
// persisted (unstable.go) and a read-only Storage (log.go, storage.go).
//
// Choices a reader of etcd raft should know about:
//
//   - Heartbeats carry a round number beside term and commit, so the
//     transport coalesces (group, term, commit, round) tuples. ReadIndex
//     and leases must know which round a response acknowledges; a bare
//     (term, commit) response cannot say whether it answers a heartbeat
//     sent before or after a read arrived.
//   - "Persisted up to (term, index)" is acknowledged by the sequence
//     number of the write (Ready.PersistSeq): the Core remembers the
//     (term, index) each write ended at, and a write that only changes the
//     hard state (a vote) still has a number to acknowledge.
//   - Committed entries are handed out only once they are persisted here
//     too, so a state machine never runs ahead of its own log.
//   - A membership change takes effect when its entry commits, inside the
//     Core, rather than when the application applies it.
//
// The package imports only the standard library, so the simulation in its
// tests can drive whole clusters from one seed (sim_test.go).
package consensus
