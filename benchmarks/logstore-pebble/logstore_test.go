package bench

import (
	"fmt"
	"math"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore"
)

// logstoreStore drives raftpipe's logstore as the fsync stage will: one
// Batch per group commit, each group's Append then SetHardState, one Write.
type logstoreStore struct {
	s *logstore.Store
	b logstore.Batch
}

func openLogstore(dir string, segmentBytes int64) (store, error) {
	s, err := logstore.Open(logstore.Options{Dir: dir, SegmentBytes: segmentBytes})
	if err != nil {
		return nil, err
	}
	return &logstoreStore{s: s}, nil
}

func (l *logstoreStore) write(ws []groupWrite) error {
	for _, w := range ws {
		l.b.Append(w.group, w.ents)
		l.b.SetHardState(w.group, w.hs)
	}
	err := l.s.Write(&l.b)
	l.b.Reset()
	return err
}

func (l *logstoreStore) counters() (uint64, uint64, uint64) {
	st := l.s.Stats()
	return st.Entries, st.Syncs, st.Bytes
}

func (l *logstoreStore) close() error { return l.s.Close() }

func (l *logstoreStore) entry(group, index uint64) (consensus.Entry, error) {
	ents, err := l.s.Storage(group).Entries(index, index+1, math.MaxUint64)
	if err != nil {
		return consensus.Entry{}, fmt.Errorf("group %d index %d: %w", group, index, err)
	}
	if len(ents) != 1 {
		return consensus.Entry{}, fmt.Errorf("group %d index %d: %d entries", group, index, len(ents))
	}
	return ents[0], nil
}

func (l *logstoreStore) hardState(group uint64) (consensus.HardState, error) {
	return l.s.Storage(group).InitialState()
}
