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
// The package imports only the standard library, so the simulation in its
// tests can drive whole clusters from one seed.
package consensus
