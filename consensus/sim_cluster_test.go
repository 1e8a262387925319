package consensus

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type sim struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	nodes []*simNode // nodes[i] has ID i+1
	net   []simMsg   // in flight
	step  int
	trace bool

	// Fault rates of this seed.
	dropRate, dupRate float64
	delayMax          int
	// side[i] is node i+1's side of a partition; nil when healed.
	side     []int
	healAt   int
	faulty   bool // faults are on; off for the final liveness phase
	nextData int
	nextCtx  uint64

	// committed is every entry known committed anywhere, in order: the
	// one history every state machine must follow.
	committed  []Entry
	commitTerm []uint64          // for each committed entry, a term it was committed in or after
	leaders    map[uint64]uint64 // term -> the one leader of that term
	events     []string          // the last events, for failure reports
	stats      simStats
}

type simNode struct {
	id       uint64
	core     *Core // nil while down
	disk     *MemoryStorage
	restarts uint64
	upAt     int // step at which a down node restarts
	// unsynced are writes handed out and not yet durable: a crash loses
	// them.
	unsynced []Ready
	// toApply are committed entries handed out and not yet applied.
	toApply [][]Entry
	// applied survives crashes: the state machine persists its applied
	// index with its data.
	applied uint64
	// members is the membership as of applied, as the state machine
	// tracks it; snapshots carry it.
	members    Membership
	lastCommit uint64
	wasLeader  uint64 // term in which this life last saw itself leader
	reads      []simRead
	// A paused node (a stopped process, a long GC) does nothing until
	// pausedUntil; the ticks it missed fire together at the next tick
	// after it resumes, so reads can reach it before its clock catches up.
	pausedUntil int
	missedTicks int
}

func (n *simNode) paused(step int) bool { return step < n.pausedUntil }

type simMsg struct {
	m  Message
	at int // deliverable from this step on
}

type simRead struct {
	ctx uint64
	// floor is the committed length when the read began: the read must
	// see at least that.
	floor uint64
	index uint64 // from the ReadState; 0 until it arrives
}

func newSim(t *testing.T, seed uint64, rng *rand.Rand, size int) *sim {
	s := &sim{t: t, seed: seed, rng: rng, leaders: map[uint64]uint64{}, faulty: true}
	s.dropRate = rng.Float64() * 0.15
	s.dupRate = rng.Float64() * 0.05
	s.delayMax = 1 + rng.IntN(30)
	for i := range size {
		n := &simNode{id: uint64(i + 1), disk: NewMemoryStorage()}
		s.nodes = append(s.nodes, n)
	}
	for _, n := range s.nodes {
		n.members = Membership{Voters: s.voters()}
		s.start(n)
	}
	return s
}

func (s *sim) voters() []uint64 {
	ids := make([]uint64, len(s.nodes))
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	return ids
}

func (s *sim) start(n *simNode) {
	cfg := DefaultConfig()
	cfg.ID = n.id
	cfg.Storage = n.disk
	cfg.Members = Membership{Voters: s.voters()}
	cfg.Applied = n.applied
	cfg.Seed = s.seed*1000 + n.restarts
	cfg.InflightMsgsMax = 4
	cfg.MsgEntriesMax = 8
	cfg.UncommittedBytesMax = 4096
	core, err := New(cfg)
	if err != nil {
		simFail("node %d restart: %v", n.id, err)
	}
	n.core = core
	n.lastCommit = core.log.committed
	n.wasLeader = 0
}

func (s *sim) logf(format string, args ...any) {
	e := fmt.Sprintf("step %d: ", s.step) + fmt.Sprintf(format, args...)
	if s.trace {
		s.t.Log(e)
	}
	s.events = append(s.events, e)
	if len(s.events) > 40 {
		s.events = s.events[1:]
	}
}

func (s *sim) describe() string {
	var b strings.Builder
	b.WriteString("last events:\n")
	for _, e := range s.events {
		b.WriteString("  " + e + "\n")
	}
	for _, n := range s.nodes {
		if n.core == nil {
			fmt.Fprintf(&b, "node %d: down\n", n.id)
			continue
		}
		st := n.core.Status()
		fmt.Fprintf(&b, "node %d: %s term=%d lead=%d commit=%d applied=%d last=%d\n",
			n.id, st.Role, st.Term, st.Leader, st.Commit, n.applied, n.core.log.lastIndex())
	}
	fmt.Fprintf(&b, "committed: %d entries; %+v", len(s.committed), s.stats)
	return b.String()
}

// run takes steps with faults, then heals everything and requires the
// group to commit again. Broken invariants come back as errors.
func (s *sim) run(steps int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(simError)
			if !ok {
				err = fmt.Errorf("panic: %v\n%s", r, stack())
				return
			}
			err = se
		}
	}()
	for s.step = 0; s.step < steps; s.step++ {
		s.randomStep()
		s.check()
	}
	return s.settle()
}

func (s *sim) live() []*simNode {
	var out []*simNode
	for _, n := range s.nodes {
		if n.core != nil {
			out = append(out, n)
		}
	}
	return out
}

// randomLive returns a random node that is up and not paused.
func (s *sim) randomLive() *simNode {
	var l []*simNode
	for _, n := range s.live() {
		if !n.paused(s.step) {
			l = append(l, n)
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l[s.rng.IntN(len(l))]
}

func (s *sim) leader() *simNode {
	var best *simNode
	for _, n := range s.live() {
		if n.core.role == Leader && (best == nil || n.core.term > best.core.term) {
			best = n
		}
	}
	return best
}

func (s *sim) randomStep() {
	for _, n := range s.nodes {
		if n.core == nil && s.step >= n.upAt {
			s.start(n)
			s.logf("node %d restarts", n.id)
		}
	}
	for _, n := range s.nodes {
		if n.core != nil && n.pausedUntil == s.step && n.core.role == Leader {
			// Clients waited on the node while it was stopped: their
			// reads reach it before anything tells it it was deposed.
			s.readOn(n)
		}
	}
	if s.side != nil && s.step >= s.healAt {
		s.side = nil
		s.logf("partition heals")
	}
	r := s.rng.IntN(1000)
	switch {
	case r < 80:
		s.tickAll()
	case r < 430:
		for range 1 + s.rng.IntN(10) {
			s.deliverOne()
		}
	case r < 630:
		if n := s.randomLive(); n != nil {
			s.processReady(n)
		}
	case r < 780:
		if n := s.randomLive(); n != nil {
			s.sync(n, 1+s.rng.IntN(3))
		}
	case r < 880:
		if n := s.randomLive(); n != nil {
			s.applySome(n)
		}
	case r < 930:
		s.proposeSome()
	case r < 962:
		s.readSome()
	case r < 964 && s.faulty:
		s.crash()
	case r < 966 && s.faulty:
		s.partition()
	case r < 967 && s.faulty:
		s.pause()
	case r < 969:
		s.transfer()
	case r < 977:
		s.compact()
	case r < 980:
		s.reconfigure()
	case s.faulty:
		s.duplicate()
	}
}

func (s *sim) tickAll() {
	for _, n := range s.live() {
		if n.paused(s.step) {
			n.missedTicks++
			continue
		}
		for ; n.missedTicks > 0; n.missedTicks-- {
			n.core.Tick()
		}
		n.core.Tick()
	}
}

func (s *sim) pause() {
	n := s.leader()
	if n == nil || s.rng.IntN(2) == 0 {
		n = s.randomLive()
	}
	if n != nil {
		n.pausedUntil = s.step + 50 + s.rng.IntN(500)
		s.logf("node %d pauses until step %d", n.id, n.pausedUntil)
	}
}

func (s *sim) send(m Message) {
	if s.faulty && s.rng.Float64() < s.dropRate {
		s.lost(m)
		return
	}
	delay := 0
	if s.faulty {
		delay = s.rng.IntN(s.delayMax)
	}
	s.net = append(s.net, simMsg{m: m, at: s.step + delay})
}

func (s *sim) deliverOne() {
	// Any message that is due, not only the oldest: the network reorders.
	var due []int
	for i, sm := range s.net {
		if sm.at <= s.step && !s.nodes[sm.m.To-1].paused(s.step) {
			due = append(due, i)
		}
	}
	if len(due) == 0 {
		return
	}
	i := due[s.rng.IntN(len(due))]
	sm := s.net[i]
	s.net = slices.Delete(s.net, i, i+1)
	m := sm.m
	n := s.nodes[m.To-1]
	if n.core == nil || s.side != nil && s.side[m.From-1] != s.side[m.To-1] {
		s.lost(m)
		return
	}
	if m.Snapshot != nil {
		snap := *m.Snapshot // the receiver gets its own copy, as over a wire
		m.Snapshot = &snap
		if from := s.nodes[m.From-1]; from.core != nil {
			from.core.ReportSnapshot(m.To, true)
		}
	}
	if err := n.core.Step(m); err != nil {
		simFail("node %d step %v: %v", n.id, m, err)
	}
}

// lost plays the transport's report: a snapshot stream that breaks is
// reported to its sender, which would otherwise wait for it forever.
func (s *sim) lost(m Message) {
	if m.Type == MsgSnap {
		if from := s.nodes[m.From-1]; from.core != nil {
			from.core.ReportSnapshot(m.To, false)
		}
	}
}

func (s *sim) duplicate() {
	if len(s.net) > 0 {
		sm := s.net[s.rng.IntN(len(s.net))]
		sm.at = s.step + s.rng.IntN(s.delayMax)
		s.net = append(s.net, sm)
	}
}

func (s *sim) processReady(n *simNode) {
	if !n.core.HasReady() {
		return
	}
	rd := n.core.Ready()
	for _, m := range rd.Messages {
		s.checkSendable(n, m)
		s.send(m)
	}
	if rd.PersistSeq != 0 {
		n.unsynced = append(n.unsynced, rd)
	}
	if len(rd.Committed) > 0 {
		n.toApply = append(n.toApply, rd.Committed)
	}
	for _, rs := range rd.ReadStates {
		for i := range n.reads {
			if n.reads[i].ctx != rs.Context {
				continue
			}
			if rs.Dropped {
				n.reads = slices.Delete(n.reads, i, i+1)
			} else {
				n.reads[i].index = rs.Index
				if rs.Index < n.reads[i].floor {
					simFail("node %d: read %d got index %d, but %d entries were committed before it began",
						n.id, rs.Context, rs.Index, n.reads[i].floor)
				}
			}
			break
		}
	}
	s.serveReads(n)
}

// sync makes up to k of n's oldest writes durable, in order, and
// acknowledges them; a write that carries a snapshot also installs it in
// the state machine, after the log records it.
func (s *sim) sync(n *simNode, k int) {
	for ; k > 0 && len(n.unsynced) > 0; k-- {
		rd := n.unsynced[0]
		n.unsynced = n.unsynced[1:]
		if rd.Snapshot != nil {
			n.disk.ApplySnapshot(*rd.Snapshot)
		}
		if err := n.disk.Append(rd.Entries); err != nil {
			simFail("node %d: disk append: %v", n.id, err)
		}
		n.disk.SetHardState(rd.HardState)
		if err := n.core.Persisted(rd.PersistSeq); err != nil {
			simFail("node %d: persisted %d: %v", n.id, rd.PersistSeq, err)
		}
		if rd.Snapshot != nil {
			if rd.Snapshot.Index > uint64(len(s.committed)) {
				simFail("node %d: snapshot at %d beyond the %d committed entries", n.id, rd.Snapshot.Index, len(s.committed))
			}
			n.applied = rd.Snapshot.Index
			n.members = rd.Snapshot.Membership.clone()
			n.toApply = nil
			if err := n.core.SnapshotInstalled(rd.Snapshot.Index); err != nil {
				simFail("node %d: snapshot installed: %v", n.id, err)
			}
			s.stats.snapshots++
			s.logf("node %d installs snapshot %d", n.id, rd.Snapshot.Index)
		}
	}
}

// applySome applies n's oldest batch of committed entries.
func (s *sim) applySome(n *simNode) {
	if len(n.toApply) == 0 {
		return
	}
	ents := n.toApply[0]
	n.toApply = n.toApply[1:]
	for _, e := range ents {
		if e.Index != n.applied+1 {
			simFail("node %d applies %d after %d: out of order", n.id, e.Index, n.applied)
		}
		if e.Index > uint64(len(s.committed)) {
			simFail("node %d applies %d, not known committed (%d)", n.id, e.Index, len(s.committed))
		}
		if c := s.committed[e.Index-1]; c.Term != e.Term || string(c.Data) != string(e.Data) {
			simFail("node %d applies %d/%d %q, but %d/%d %q was committed", n.id, e.Index, e.Term, e.Data, c.Index, c.Term, c.Data)
		}
		n.applied = e.Index
		if e.Type == EntryMembership {
			rec, err := DecodeMembershipEntry(e.Data)
			if err != nil {
				simFail("node %d: membership entry %d: %v", n.id, e.Index, err)
			}
			// The state machine checks the change against its own view:
			// every node must see the same sequence of memberships.
			want, err := n.members.apply(rec.Change)
			if err != nil || !slices.Equal(want.Voters, rec.Result.Voters) || !slices.Equal(want.Learners, rec.Result.Learners) {
				simFail("node %d: membership entry %d: %s %d on %v gives %v, entry says %v (%v)",
					n.id, e.Index, rec.Change.Type, rec.Change.Node, n.members, want, rec.Result, err)
			}
			n.members = rec.Result
		}
	}
	if err := n.core.Applied(n.applied); err != nil {
		simFail("node %d: applied: %v", n.id, err)
	}
	s.serveReads(n)
}

func (s *sim) proposeSome() {
	n := s.leader()
	if n == nil || s.rng.IntN(10) == 0 {
		n = s.randomLive() // followers refuse
	}
	if n == nil {
		return
	}
	ents := make([]Entry, 1+s.rng.IntN(5))
	for i := range ents {
		s.nextData++
		ents[i].Data = fmt.Appendf(nil, "v%d", s.nextData)
	}
	_, _, err := n.core.Propose(ents)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrTransferring), errors.Is(err, ErrUncommittedFull):
	default:
		simFail("node %d propose: %v", n.id, err)
	}
}

// readSome starts a ReadIndex read on a random node, or serves a lease
// read on the leader when its lease holds.
// Any node that believes it leads is tried, stale leaders included: they
// are the ones a broken lease or ReadIndex would let serve old data.
func (s *sim) readSome() {
	n := s.randomLive()
	if l := s.staleLeader(); l != nil && s.rng.IntN(2) == 0 {
		n = l
	}
	if n == nil {
		return
	}
	// A lease read needs a clock that is current: the stages check the
	// lease against the wall clock, which a paused node's ticks lag.
	if st := n.core.Status(); st.LeaseValid() && n.missedTicks == 0 && s.rng.IntN(2) == 0 {
		// Served at the leader's commit index once applied; here the
		// index is what must already cover every committed write.
		if st.Commit < uint64(len(s.committed)) {
			simFail("node %d: lease read at commit %d, but %d entries are committed (lease until %d, now %d)",
				n.id, st.Commit, len(s.committed), st.LeaseExpiry, st.Now)
		}
		s.stats.leaseReads++
		s.stats.reads++
		return
	}
	s.readOn(n)
}

// readOn starts a ReadIndex read on n.
func (s *sim) readOn(n *simNode) {
	s.nextCtx++
	err := n.core.ReadIndex(s.nextCtx)
	switch {
	case err == nil:
		n.reads = append(n.reads, simRead{ctx: s.nextCtx, floor: uint64(len(s.committed))})
	case errors.Is(err, ErrNoLeader):
	default:
		simFail("node %d read: %v", n.id, err)
	}
}

// staleLeader returns a node that believes it leads while a newer term
// has a leader, if any.
func (s *sim) staleLeader() *simNode {
	l := s.leader()
	for _, n := range s.live() {
		if l != nil && n.core.role == Leader && n.core.term < l.core.term && !n.paused(s.step) {
			return n
		}
	}
	return nil
}

func (s *sim) serveReads(n *simNode) {
	kept := n.reads[:0]
	for _, r := range n.reads {
		if r.index != 0 && n.applied >= r.index {
			s.stats.reads++
			continue
		}
		kept = append(kept, r)
	}
	n.reads = kept
}

func (s *sim) crash() {
	n := s.randomLive()
	if n == nil || len(s.live())*2 <= len(s.nodes) && s.rng.IntN(4) != 0 {
		return
	}
	n.core, n.unsynced, n.toApply, n.reads = nil, nil, nil, nil
	n.pausedUntil, n.missedTicks = 0, 0
	n.restarts++
	n.upAt = s.step + s.rng.IntN(200)
	s.stats.crashes++
	s.logf("node %d crashes, restarts at step %d", n.id, n.upAt)
}

func (s *sim) partition() {
	if s.side != nil {
		return
	}
	s.side = make([]int, len(s.nodes))
	for i := range s.side {
		s.side[i] = s.rng.IntN(2)
	}
	if l := s.leader(); l != nil && s.rng.IntN(2) == 0 {
		// Strand the leader in a minority: until check-quorum deposes it,
		// it believes it leads while the majority elects another, the
		// window in which a broken lease or ReadIndex serves stale reads.
		for i := range s.side {
			s.side[i] = 0
		}
		s.side[l.id-1] = 1
		if len(s.nodes) == 5 && s.rng.IntN(2) == 0 {
			s.side[(int(l.id)+s.rng.IntN(4))%5] = 1
		}
	}
	s.healAt = s.step + 50 + s.rng.IntN(400)
	s.logf("partition %v until step %d", s.side, s.healAt)
}

func (s *sim) transfer() {
	l := s.leader()
	if l == nil {
		return
	}
	to := uint64(1 + s.rng.IntN(len(s.nodes)))
	if err := l.core.TransferLeadership(to); err != nil && !errors.Is(err, ErrInvalidTransfer) {
		simFail("node %d transfer to %d: %v", l.id, to, err)
	}
	s.logf("node %d transfers leadership to %d", l.id, to)
}

func (s *sim) compact() {
	n := s.randomLive()
	if n == nil {
		return
	}
	first, _ := n.disk.FirstIndex()
	if n.applied < first+4 {
		return
	}
	if err := n.disk.Compact(n.applied, n.members); err != nil {
		simFail("node %d compact: %v", n.id, err)
	}
	s.logf("node %d compacts to %d", n.id, n.applied)
}

// settle heals the network, restarts everyone, and requires a leader to
// commit a new entry: the faults left the group able to make progress.
func (s *sim) settle() error {
	s.faulty = false
	s.side = nil
	for _, n := range s.nodes {
		n.pausedUntil = 0
	}
	for _, n := range s.nodes {
		if n.core == nil {
			s.start(n)
		}
	}
	target := uint64(len(s.committed)) + 1
	for i := 0; i < 20000; i++ {
		s.step++
		switch i % 6 {
		case 0:
			if i%60 == 0 {
				s.tickAll()
			}
			if i%300 == 0 {
				s.proposeSome()
			}
		case 1, 2:
			for range len(s.net) {
				s.deliverOne()
			}
		case 3:
			for _, n := range s.nodes {
				s.processReady(n)
			}
		case 4:
			for _, n := range s.nodes {
				s.sync(n, len(n.unsynced))
			}
		case 5:
			for _, n := range s.nodes {
				for len(n.toApply) > 0 {
					s.applySome(n)
				}
			}
		}
		s.check()
		if uint64(len(s.committed)) >= target && s.allApplied() {
			return nil
		}
	}
	return fmt.Errorf("no progress after healing: %d entries committed, target %d", len(s.committed), target)
}

// allApplied reports whether every member caught up; removed nodes are
// no longer sent anything.
func (s *sim) allApplied() bool {
	l := s.leader()
	if l == nil {
		return false
	}
	m := l.core.Membership()
	for _, n := range s.nodes {
		if m.isMember(n.id) && n.applied < uint64(len(s.committed)) {
			return false
		}
	}
	return true
}

// reconfigure has the leader change its membership by one node: remove a
// voter (itself sometimes) while more than two remain, add a removed node
// back as a learner, or promote a learner.
func (s *sim) reconfigure() {
	l := s.leader()
	if l == nil {
		return
	}
	m := l.core.Membership()
	var ch MembershipChange
	switch {
	case len(m.Learners) > 0:
		ch = MembershipChange{Type: PromoteLearner, Node: m.Learners[s.rng.IntN(len(m.Learners))]}
	case len(m.Voters) < len(s.nodes) && s.rng.IntN(2) == 0:
		for _, n := range s.nodes {
			if !m.isMember(n.id) {
				ch = MembershipChange{Type: AddLearner, Node: n.id}
				break
			}
		}
	case len(m.Voters) > 2:
		ch = MembershipChange{Type: RemoveNode, Node: m.Voters[s.rng.IntN(len(m.Voters))]}
	default:
		return
	}
	_, err := l.core.ProposeMembership(ch)
	switch {
	case err == nil:
		s.stats.reconfigs++
		s.logf("node %d proposes %s %d", l.id, ch.Type, ch.Node)
	case errors.Is(err, ErrMembershipPending), errors.Is(err, ErrTransferring):
	default:
		simFail("node %d propose %s %d: %v", l.id, ch.Type, ch.Node, err)
	}
}
