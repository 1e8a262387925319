package raftpipe

import (
	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/stages"
)

// Membership is a group's voters and learners.
type Membership = consensus.Membership

// Role is what a host currently is in a group.
type Role = consensus.Role

// The roles.
const (
	Follower     = consensus.Follower
	PreCandidate = consensus.PreCandidate
	Candidate    = consensus.Candidate
	Leader       = consensus.Leader
)

// ReadMode says how a read proves its answer fresh.
type ReadMode = stages.ReadMode

// The read modes; see Host.Read.
const (
	// Linearizable reads at the leader, through its lease while it holds,
	// else through a ReadIndex round.
	Linearizable = stages.Linearizable
	// ReadIndexOnly reads at the leader through a ReadIndex round.
	ReadIndexOnly = stages.ReadIndexOnly
	// LeaseOnly reads at the leader through its lease, or fails with
	// ErrNoLease.
	LeaseOnly = stages.LeaseOnly
	// Follower reads on any member: the read index from the leader, the
	// value from the local state machine once it applied that far.
	FollowerRead = stages.Follower
	// Stale reads the local state machine as it is.
	Stale = stages.Stale
)

// Outcome is what became of one proposal of a batch: the state machine's
// result, or why it was not applied.
type Outcome = stages.Outcome

// GroupStatus is a group's state on this host: role, term, leader,
// commit and applied index, and when this host's lease ends (zero when it
// holds none).
type GroupStatus = stages.GroupStatus
