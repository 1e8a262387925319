package consensus

import (
	"fmt"
	"math/rand/v2"
)

// Core is one member of one Raft group. It is not safe for concurrent use:
// one step worker owns it and calls it from one goroutine.
type Core struct {
	id  uint64
	cfg Config
	log *raftLog
	rng *rand.Rand

	term uint64
	vote uint64
	role Role
	lead uint64

	members Membership
	prs     []*progress // one per member, sorted by id; the leader's view
	votes   []vote      // votes received in the current campaign

	// msgs are ready to send; held wait for the persist sequence they
	// depend on (votes granted, appends acknowledged).
	msgs       []Message
	held       []heldMessage
	readStates []ReadState
	// The buffers handed out by the previous Ready, reused by the next:
	// what Ready hands out stays valid until the Ready after it.
	msgsSpare       []Message
	readStatesSpare []ReadState

	persist persistTracker

	// now counts ticks. The election timer runs in every role; a leader's
	// times check-quorum.
	now                       uint64
	electionElapsed           int
	heartbeatElapsed          int
	randomizedElectionTimeout int
	// lastLeaderContact is the tick at which this node last heard from a
	// leader; it starts at 0 so that a restarted node refuses votes for one
	// election timeout, as if it had just heard from one. Leases rely on it.
	lastLeaderContact uint64

	reads       readTracker
	lease       leaseTracker
	uncommitted uncommittedTracker

	// transferee is the target of a leader transfer under way, started
	// transferElapsed ticks ago.
	transferee      uint64
	transferElapsed int
	// snapshotInstalling is the index of a snapshot handed out to be
	// installed and not yet acknowledged by SnapshotInstalled.
	snapshotInstalling uint64

	scratch []uint64 // reused by quorum computations
	err     error    // set once the Core has failed; see ErrFailed
}

type vote struct {
	id      uint64
	granted bool
}

// New returns a Core that resumes from what cfg.Storage holds.
func New(cfg Config) (c *Core, err error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	hs, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("consensus: node %d: initial state: %w", cfg.ID, err)
	}
	snap, err := cfg.Storage.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("consensus: node %d: snapshot: %w", cfg.ID, err)
	}
	l, err := newLog(cfg.Storage, cfg.Applied)
	if err != nil {
		return nil, fmt.Errorf("consensus: node %d: %w", cfg.ID, err)
	}
	c = &Core{
		id:   cfg.ID,
		cfg:  cfg,
		log:  l,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.ID)),
		term: hs.Term,
		vote: hs.Vote,
	}
	defer c.recoverFailure(&err)
	last := l.lastIndex()
	if hs.Commit > last {
		return nil, fmt.Errorf("%w: node %d: hard state commit %d beyond last index %d", ErrCorruptState, cfg.ID, hs.Commit, last)
	}
	if cfg.Applied > last {
		return nil, fmt.Errorf("%w: node %d: applied index %d beyond last index %d", ErrCorruptState, cfg.ID, cfg.Applied, last)
	}
	// Only committed entries are applied, so the applied index is a commit
	// index too, possibly newer than the hard state's if the node crashed
	// between applying and persisting its next hard state.
	l.committed = max(l.committed, hs.Commit, cfg.Applied)
	l.applying, l.applied = max(l.applying, cfg.Applied), max(l.applied, cfg.Applied)
	c.persist.init(hs)
	c.members = cfg.Members.clone()
	if !snap.IsZero() {
		c.members = snap.Membership.clone()
	}
	if err := c.replayMembership(); err != nil {
		return nil, err
	}
	c.becomeFollower(c.term, 0)
	return c, nil
}

// ID returns the node's ID.
func (c *Core) ID() uint64 { return c.id }

// Err returns the error that stopped the Core, or nil.
func (c *Core) Err() error { return c.err }

// Status returns the node's current state.
func (c *Core) Status() Status {
	return Status{
		ID:          c.id,
		Role:        c.role,
		Term:        c.term,
		Vote:        c.vote,
		Leader:      c.lead,
		Commit:      c.log.committed,
		Applied:     c.log.applied,
		Now:         c.now,
		LeaseExpiry: c.leaseExpiry(),
		Transferee:  c.transferee,
	}
}

// Membership returns a copy of the membership in force.
func (c *Core) Membership() Membership { return c.members.clone() }

func (c *Core) hardState() HardState {
	return HardState{Term: c.term, Vote: c.vote, Commit: c.log.committed}
}

// promotable reports whether this node may campaign.
func (c *Core) promotable() bool {
	return c.members.isVoter(c.id) && c.log.unstable.snapshot == nil
}

func (c *Core) progress(id uint64) *progress {
	for _, pr := range c.prs {
		if pr.id == id {
			return pr
		}
	}
	return nil
}

// quorum is how many voters make a majority.
func (c *Core) quorum() int { return len(c.members.Voters)/2 + 1 }

// quorumValue returns the largest v such that a majority of voters have a
// value >= v, where value(pr) gives each voter's.
func (c *Core) quorumValue(value func(*progress) uint64) uint64 {
	c.scratch = c.scratch[:0]
	for _, pr := range c.prs {
		if !pr.learner {
			c.scratch = append(c.scratch, value(pr))
		}
	}
	if len(c.scratch) == 0 {
		return 0
	}
	// Insertion sort, descending: groups are small and this allocates
	// nothing.
	s := c.scratch
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] > s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[c.quorum()-1]
}

func (c *Core) resetRandomizedElectionTimeout() {
	e := c.cfg.ElectionTicks
	c.randomizedElectionTimeout = e + c.rng.IntN(e)
}

// reset starts a new term, or a new role in the same one.
func (c *Core) reset(term uint64) {
	if c.term != term {
		c.term = term
		c.vote = 0
	}
	c.lead = 0
	c.electionElapsed = 0
	c.heartbeatElapsed = 0
	c.resetRandomizedElectionTimeout()
	c.abortTransfer()
	c.votes = c.votes[:0]
	c.reads.dropAll(c)
	c.lease.reset()
	c.uncommitted.reset()
}

func (c *Core) becomeFollower(term, lead uint64) {
	c.reset(term)
	c.role = Follower
	c.lead = lead
}

func (c *Core) becomeLeader() {
	if c.role == Follower {
		fatalf("node %d: follower %d cannot become leader directly", c.id, c.term)
	}
	c.reset(c.term)
	c.role = Leader
	c.lead = c.id
	last := c.log.lastIndex()
	for _, pr := range c.prs {
		*pr = progress{
			id:       pr.id,
			next:     last + 1,
			learner:  pr.learner,
			inflight: pr.inflight,
		}
		pr.inflight.reset()
		if pr.id == c.id {
			// The leader's own match counts only what is persisted.
			pr.match = c.log.stableIndex()
			pr.becomeReplicate()
			pr.recentActive = true
		}
	}
	c.lease.startRound(c)
	// The no-op lets the leader commit an entry of its term at once, which
	// is what commits its predecessors' entries (§5.4.2) and what reads
	// and membership changes wait for.
	c.appendLocal([]Entry{{Type: EntryNoop}})
	c.bcastAppend(true)
}

// send queues m to leave in the next Ready.
func (c *Core) send(m Message) {
	m.From = c.id
	if m.Term == 0 {
		m.Term = c.term
	}
	c.msgs = append(c.msgs, m)
}

// appendLocal appends proposals to the leader's log, stamping term and
// index, and arranges the leader's own acknowledgement for when they are
// persisted: the leader counts itself toward a quorum only then.
func (c *Core) appendLocal(ents []Entry) uint64 {
	last := c.log.lastIndex()
	for i := range ents {
		ents[i].Term = c.term
		ents[i].Index = last + 1 + uint64(i)
	}
	last = c.log.append(ents)
	c.sendAfterPersist(Message{Type: MsgAppResp, To: c.id, Index: last, Round: c.lease.round})
	return last
}
