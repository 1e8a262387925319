package consensus

import (
	"errors"
	"testing"
)

// failingStorage fails every read once broken, as a disk that went away.
type failingStorage struct {
	*MemoryStorage
	broken bool
}

var errDiskGone = errors.New("disk gone")

func (s *failingStorage) Term(i uint64) (uint64, error) {
	if s.broken {
		return 0, errDiskGone
	}
	return s.MemoryStorage.Term(i)
}

func (s *failingStorage) Entries(lo, hi, maxBytes uint64) ([]Entry, error) {
	if s.broken {
		return nil, errDiskGone
	}
	return s.MemoryStorage.Entries(lo, hi, maxBytes)
}

// A storage read that fails stops the Core for good, with an error that
// names the node and the cause; it neither panics nor goes on guessing.
func TestStorageFailureIsFailStop(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.propose(1, "a", "b")
	c.stabilize()
	n2 := c.nodes[2]
	fs := &failingStorage{MemoryStorage: n2.storage}
	n2.core.log.storage = fs
	fs.broken = true
	// An append after the last persisted entry makes node 2 read its term.
	last := n2.core.log.lastIndex()
	err := n2.core.Step(Message{Type: MsgApp, From: 1, To: 2, Term: n2.core.term, Index: last, LogTerm: 1})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, errDiskGone) {
		t.Fatalf("step with a failed disk: %v, want ErrFailed wrapping the disk's error", err)
	}
	for name, err := range map[string]error{
		"Step":      n2.core.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Term: n2.core.term}),
		"ReadIndex": n2.core.ReadIndex(1),
		"Persisted": n2.core.Persisted(1),
		"Applied":   n2.core.Applied(1),
		"Err":       n2.core.Err(),
	} {
		if !errors.Is(err, ErrFailed) {
			t.Errorf("%s after failure: %v, want ErrFailed", name, err)
		}
	}
	if n2.core.HasReady() {
		t.Errorf("a failed core still has work to hand out")
	}
	n2.core.Tick() // must not panic
}

// ReportUnreachable sends a replicating follower back to probing, so the
// leader stops filling a window that will never drain.
func TestReportUnreachableResetsToProbe(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	c.propose(1, "a")
	c.stabilize()
	pr := c.core(1).progress(2)
	if pr.state != replicate {
		t.Fatalf("follower 2 is %s, want replicate", pr.state)
	}
	c.core(1).ReportUnreachable(2)
	if pr.state != probe || pr.next != pr.match+1 {
		t.Fatalf("after ReportUnreachable: %v, want probe from match+1", pr)
	}
}
