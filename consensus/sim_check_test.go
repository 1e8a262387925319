package consensus

import "runtime/debug"

func stack() string { return string(debug.Stack()) }

// check verifies the invariants after a step.
func (s *sim) check() {
	for _, n := range s.live() {
		c := n.core
		if err := c.Err(); err != nil {
			simFail("node %d failed: %v", n.id, err)
		}
		st := c.Status()
		// The commit index never goes back within a node's life.
		if st.Commit < n.lastCommit {
			simFail("node %d: commit went back from %d to %d", n.id, n.lastCommit, st.Commit)
		}
		n.lastCommit = st.Commit
		s.learnCommitted(n)
		if st.Role == Leader {
			s.checkLeader(n)
		}
		// A paused node's clock lags the wall clock its lease is checked
		// against by the stages; only a current clock's lease counts.
		if st.LeaseValid() && !n.paused(s.step) && n.missedTicks == 0 {
			s.checkLease(n, st)
		}
	}
	if s.step%100 == 0 {
		s.checkLogMatching()
	}
}

// learnCommitted extends the one committed history from n's log, and
// checks n's committed entries against it.
func (s *sim) learnCommitted(n *simNode) {
	l := n.core.log
	from := max(l.firstIndex(), uint64(len(s.committed))+1)
	for i := from; i <= l.committed; i++ {
		ents, err := l.entries(i, i+1, 1)
		if err != nil {
			simFail("node %d: committed entry %d unreadable: %v", n.id, i, err)
		}
		s.committed = append(s.committed, ents[0])
		// n learned of the commit from a leader of its current term (or
		// is that leader): the entry was committed in that term or before.
		s.commitTerm = append(s.commitTerm, n.core.term)
		s.stats.commits++
	}
	// Log matching on the committed part: n's committed entries that it
	// still holds are the history's.
	lo := max(l.firstIndex(), uint64(len(s.committed))-min(uint64(len(s.committed)), 16)+1)
	for i := lo; i <= min(l.committed, uint64(len(s.committed))); i++ {
		if t := l.termOr0(i); t != s.committed[i-1].Term {
			simFail("node %d: committed entry %d has term %d, history says %d", n.id, i, t, s.committed[i-1].Term)
		}
	}
}

// checkLeader checks a leader: alone in its term, holding every committed
// entry (leader completeness), and counting itself only for what its disk
// holds.
func (s *sim) checkLeader(n *simNode) {
	c := n.core
	if other, ok := s.leaders[c.term]; ok && other != n.id {
		simFail("two leaders in term %d: %d and %d", c.term, other, n.id)
	}
	if _, ok := s.leaders[c.term]; !ok {
		s.stats.elections++
		s.logf("node %d leads term %d", n.id, c.term)
	}
	s.leaders[c.term] = n.id
	if n.wasLeader != c.term {
		n.wasLeader = c.term
		// Leader completeness: every entry committed in an earlier term is
		// in the new leader's log. (A leader of an older term can still win
		// after a newer term committed more: it just cannot commit.)
		for i := max(c.log.firstIndex(), 1); i <= uint64(len(s.committed)); i++ {
			if s.commitTerm[i-1] >= c.term {
				continue
			}
			if t := c.log.termOr0(i); t != s.committed[i-1].Term {
				simFail("leader %d of term %d lacks committed entry %d (has term %d, want %d)",
					n.id, c.term, i, t, s.committed[i-1].Term)
			}
		}
	}
	self := c.progress(c.id)
	durable, _ := n.disk.LastIndex()
	if self != nil && self.match > durable {
		simFail("leader %d counts itself up to %d, but its disk holds %d", n.id, self.match, durable)
	}
}

// checkSendable checks a message as it leaves: a node acknowledges an
// append only once its disk holds the entries, and grants a vote only once
// its disk holds the vote.
func (s *sim) checkSendable(n *simNode, m Message) {
	if m.Term != n.core.term {
		// Released in an earlier term and still queued when the term
		// changed: like a message delayed in the network, it speaks of a
		// past that was true when it was released. Only messages of the
		// current term can be checked against the disk as it is now.
		return
	}
	switch {
	case m.Type == MsgAppResp && !m.Reject:
		durable, _ := n.disk.LastIndex()
		if m.Index > durable {
			simFail("node %d acknowledges %d, but its disk holds up to %d", n.id, m.Index, durable)
		}
		first, _ := n.disk.FirstIndex()
		if m.Index >= first {
			onDisk, _ := n.disk.Term(m.Index)
			if inLog := n.core.log.termOr0(m.Index); inLog != 0 && onDisk != inLog {
				simFail("node %d acknowledges %d, whose term is %d in its log but %d on its disk", n.id, m.Index, inLog, onDisk)
			}
		}
	case m.Type == MsgVoteResp && !m.Reject:
		hs, _ := n.disk.InitialState()
		if hs.Term != m.Term || hs.Vote != m.To {
			simFail("node %d grants its term %d vote to %d, but its disk holds term %d vote %d",
				n.id, m.Term, m.To, hs.Term, hs.Vote)
		}
	}
}

// checkLogMatching: if two logs hold an entry with the same index and
// term, they agree on every entry up to it.
func (s *sim) checkLogMatching() {
	live := s.live()
	for i, a := range live {
		for _, b := range live[i+1:] {
			la, lb := a.core.log, b.core.log
			lo := max(la.firstIndex(), lb.firstIndex())
			hi := min(la.lastIndex(), lb.lastIndex())
			match := uint64(0)
			for j := hi; j >= lo && j > 0; j-- {
				if la.termOr0(j) == lb.termOr0(j) {
					match = j
					break
				}
			}
			for j := lo; j <= match; j++ {
				ea, _ := la.entries(j, j+1, 1)
				eb, _ := lb.entries(j, j+1, 1)
				if ea[0].Term != eb[0].Term || string(ea[0].Data) != string(eb[0].Data) {
					simFail("logs of %d and %d match at %d but differ at %d", a.id, b.id, match, j)
				}
			}
		}
	}
}

// checkLease: while a leader's lease holds, no other node can have been
// elected: the quorum that renewed the lease refuses to vote until it
// expires (clocks here tick together, so the drift margin is spare).
func (s *sim) checkLease(n *simNode, st Status) {
	for _, o := range s.live() {
		if o.core.role == Leader && o.core.term > st.Term {
			simFail("node %d holds a lease in term %d until tick %d (now %d), but node %d leads term %d",
				n.id, st.Term, st.LeaseExpiry, st.Now, o.id, o.core.term)
		}
	}
}
