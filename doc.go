// Package raftpipe is the public API of the framework for programs that
// embed it: a Host runs the Raft groups of one node through one pipeline
// (package stages), one write-ahead log (logstore) and one peer transport
// (transport), and serves proposals, reads and membership changes.
//
//	h, err := raftpipe.NewHost(raftpipe.Config{NodeID: 1, DataDir: dir, ListenAddr: ":7001", Peers: peers})
//	err = h.StartGroup(ctx, 1, raftpipe.Membership{Voters: []uint64{1, 2, 3}}, fsm.NewMemKV())
//	res, err := h.Propose(ctx, 1, fsm.EncodePut(nil, key, value))
//	val, err := h.Read(ctx, 1, key, raftpipe.Linearizable)
//
// # Errors
//
// Errors are typed and matched with errors.Is: ErrNotLeader (a
// *NotLeaderError with the leader as a hint), ErrTimeout, ErrGroupNotFound,
// ErrStopped, ErrProposalDropped, ErrBusy and ErrNoLease. Invalid
// configurations match ErrInvalidConfig and name the field.
//
// # Back-pressure
//
// Every queue is bounded, so a saturated host makes callers wait (within
// their context) or answers ErrBusy; it never grows without bound. What it
// holds at most is:
//
//   - ProposeQueue proposals in the propose ring;
//   - per step worker, WorkerQueue events, each a batch of at most
//     BatchEntriesMax proposals or BatchBytesMax bytes, or one frame's
//     inbound messages;
//   - per group it leads, Raft.UncommittedBytesMax of commands proposed
//     and not yet committed (beyond it, Propose answers ErrBusy), and per
//     follower Raft.InflightBytesMax of appends in flight;
//   - ReplicateQueue, FsyncQueue and ApplyQueue submissions between the
//     stages, each one drain of one worker (its messages, its writes, its
//     committed entries of at most Raft.ApplyBytesMax per group);
//   - in the transport, Transport.SendQueueMessages messages per peer
//     (beyond which messages are dropped and Raft retries), and per
//     connection a few frames received (a full worker ring holds the
//     connection's reader back, and TCP its sender).
//
// Entries are shared, not copied, between these places: the same command
// sits in the log's cache, an fsync request and the appends to followers.
//
// # Leases
//
// A leader's lease is counted in ticks by its consensus core and turned
// into a time on the host's clock by its step worker: a lease that a
// quorum granted in the heartbeat round of tick t lasts
// (Raft.ElectionTicks - Raft.LeaseDriftTicks) × TickInterval from the
// moment the worker handled tick t. Reads check it against the clock from
// an atomic, outside the step loop. Its safety rests on followers not
// electing anyone else for an election timeout of their own ticks after
// hearing that round; the host drops ticks that would arrive in a
// catch-up burst, so those ticks span real time, and Config.Validate
// requires a drift margin that covers the rest. Clocks may differ in
// offset, not in rate beyond the margin. ReadIndexOnly never trusts
// clocks.
package raftpipe
