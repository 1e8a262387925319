package consensus

import "fmt"

// Ready is the work a Core leaves behind, handed out once. Its parts may be
// done in parallel, each acknowledged on its own:
//
//   - Messages: send now; nothing in them waits for this Ready's write.
//   - PersistSeq, Snapshot, Entries, HardState: write the snapshot's
//     metadata (it replaces the whole log), then Entries (replacing any
//     suffix they overwrite), then HardState, sync, make them readable
//     through Storage, and call Persisted(PersistSeq). PersistSeq is 0
//     when there is nothing to write. Writes must be acknowledged in
//     sequence order.
//   - Snapshot: also load its data into the state machine, then call
//     SnapshotInstalled(Snapshot.Index).
//   - Committed: apply in order after any Snapshot, then call Applied.
//   - ReadStates: serve each once the state machine has applied its Index.
//
// Messages and ReadStates are valid until the next call to Ready, which
// reuses their arrays; the entries in any part of a Ready stay valid for
// good, and must not be modified.
type Ready struct {
	Messages []Message

	PersistSeq uint64
	HardState  HardState
	Entries    []Entry
	Snapshot   *SnapshotMeta

	Committed  []Entry
	ReadStates []ReadState
}

// heldMessage waits for the write with sequence seq to be persisted.
type heldMessage struct {
	seq uint64
	msg Message
}

// persistTracker numbers the writes handed out and remembers what each
// one covers, so an acknowledgement marks the right entries stable.
type persistTracker struct {
	handed    uint64    // sequence of the last write handed out
	persisted uint64    // sequence of the last write acknowledged
	lastHS    HardState // hard state of the last write handed out
	writes    []write   // handed out, not yet acknowledged, in order
}

type write struct {
	seq       uint64
	index     uint64 // last entry written, with its term; 0 if none
	term      uint64
	snapIndex uint64 // snapshot written, 0 if none
}

func (p *persistTracker) init(hs HardState) { p.lastHS = hs }

// dirty reports whether the Core holds state that no write has covered yet.
func (c *Core) dirty() bool {
	return c.log.unstable.hasUnhanded() || c.hardState() != c.persist.lastHS
}

// sendAfterPersist sends m once everything the Core holds now is durable:
// a vote once the vote is on disk, an append acknowledgement once the
// entries are. Messages to self are stepped instead of sent.
func (c *Core) sendAfterPersist(m Message) {
	m.From = c.id
	if m.Term == 0 {
		m.Term = c.term
	}
	seq := c.persist.handed
	if c.dirty() {
		seq++
	}
	if seq <= c.persist.persisted {
		c.release(m)
		return
	}
	c.held = append(c.held, heldMessage{seq: seq, msg: m})
}

func (c *Core) release(m Message) {
	if m.To == c.id {
		c.step(m)
		return
	}
	c.msgs = append(c.msgs, m)
}

// HasReady reports whether Ready would hand out anything.
func (c *Core) HasReady() bool {
	if c.err != nil {
		return false
	}
	return len(c.msgs) > 0 || len(c.readStates) > 0 || c.reads.roundOpen ||
		c.dirty() || c.snapshotInstalling == 0 && c.log.hasNextCommitted()
}

// Ready hands out the work accumulated since the last call. After a
// failure it returns an empty Ready; Err says why.
func (c *Core) Ready() (rd Ready) {
	if c.err != nil {
		return Ready{}
	}
	defer c.recoverFailure(nil)
	c.flushReadRound()
	if c.dirty() {
		c.persist.handed++
		rd.PersistSeq = c.persist.handed
		w := write{seq: rd.PersistSeq}
		u := &c.log.unstable
		if u.snapshot != nil && !u.snapshotHanded {
			u.snapshotHanded = true
			s := *u.snapshot
			rd.Snapshot = &s
			w.snapIndex = s.Index
			c.log.applying = max(c.log.applying, s.Index)
			c.snapshotInstalling = s.Index
		}
		rd.Entries = u.unhanded()
		if n := len(rd.Entries); n > 0 {
			w.index, w.term = rd.Entries[n-1].Index, rd.Entries[n-1].Term
		}
		rd.HardState = c.hardState()
		c.persist.lastHS = rd.HardState
		c.persist.writes = append(c.persist.writes, w)
	}
	if c.snapshotInstalling == 0 {
		if ents := c.log.nextCommitted(c.cfg.ApplyBytesMax); len(ents) > 0 {
			rd.Committed = ents
			c.log.applying = ents[len(ents)-1].Index
		}
	}
	if len(c.msgs) > 0 {
		rd.Messages = c.msgs
		c.msgs, c.msgsSpare = c.msgsSpare[:0], c.msgs
	}
	if len(c.readStates) > 0 {
		rd.ReadStates = c.readStates
		c.readStates, c.readStatesSpare = c.readStatesSpare[:0], c.readStates
	}
	return rd
}

// Persisted acknowledges that the write of Ready.PersistSeq seq, and every
// earlier one, is durable and readable through Storage. Acknowledgements
// held for it go out: the follower's append responses and votes, and the
// leader's own count toward the quorum.
func (c *Core) Persisted(seq uint64) (err error) {
	if c.err != nil {
		return c.err
	}
	if seq > c.persist.handed {
		return fmt.Errorf("%w: persisted seq %d, but only %d handed out", ErrStaleAck, seq, c.persist.handed)
	}
	if seq <= c.persist.persisted {
		return nil
	}
	defer c.recoverFailure(&err)
	c.persist.persisted = seq
	u := &c.log.unstable
	n := 0
	for _, w := range c.persist.writes {
		if w.seq > seq {
			break
		}
		n++
		if w.snapIndex != 0 {
			u.stableSnapTo(w.snapIndex)
		}
		if w.index != 0 {
			u.stableTo(w.index, w.term)
		}
	}
	c.persist.writes = append(c.persist.writes[:0], c.persist.writes[n:]...)
	n = 0
	for _, h := range c.held {
		if h.seq > seq {
			break
		}
		n++
	}
	held := c.held
	ready := held[:n:n]
	c.held = held[n:] // appends made while releasing land after ready
	for _, h := range ready {
		// A message from an earlier term is dropped: its promise may no
		// longer be true (a vote never persisted, entries since replaced
		// by a newer leader's), and nobody still needs it.
		if h.msg.Term == c.term {
			c.release(h.msg)
		}
	}
	if len(c.held) == 0 {
		c.held = held[:0]
	}
	return nil
}

// Applied acknowledges that the state machine applied every entry up to
// index.
func (c *Core) Applied(index uint64) error {
	if c.err != nil {
		return c.err
	}
	if index > c.log.applying {
		return fmt.Errorf("%w: applied %d, but only %d handed out", ErrStaleAck, index, c.log.applying)
	}
	c.log.applied = max(c.log.applied, index)
	return nil
}

// SnapshotInstalled acknowledges that the state machine now holds the
// snapshot at index; committed entries after it follow in later Readys.
func (c *Core) SnapshotInstalled(index uint64) error {
	if c.err != nil {
		return c.err
	}
	if index == 0 || index > c.snapshotInstalling {
		return fmt.Errorf("%w: snapshot %d installed, but %d was handed out", ErrStaleAck, index, c.snapshotInstalling)
	}
	if index == c.snapshotInstalling {
		// An older snapshot, superseded before it was installed, leaves
		// the newer one still to come.
		c.snapshotInstalling = 0
	}
	c.log.applied = max(c.log.applied, index)
	return nil
}
