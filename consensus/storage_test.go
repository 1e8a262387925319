package consensus

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// TestMemoryStorageAgainstModel drives MemoryStorage and a plain slice
// with the same random appends, overwrites, compactions and snapshots
// across chunk boundaries, and compares every read.
func TestMemoryStorageAgainstModel(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		s := NewMemoryStorage()
		var model []Entry // model[i] has index first+i
		first, snapTerm := uint64(1), uint64(0)
		last := func() uint64 { return first + uint64(len(model)) - 1 }
		term := uint64(1)
		for step := 0; step < 3000; step++ {
			switch r := rng.IntN(100); {
			case r < 60: // append, maybe overwriting a suffix
				at := last() + 1
				if len(model) > 0 && rng.IntN(4) == 0 {
					at = first + uint64(rng.IntN(len(model)))
					term++
				}
				n := 1 + rng.IntN(700)
				ents := make([]Entry, n)
				for i := range ents {
					ents[i] = Entry{Index: at + uint64(i), Term: term, Data: []byte{byte(i)}}
				}
				// Slices read before the write must not change under it.
				var before []Entry
				var beforeCopy []Entry
				if len(model) > 0 {
					before, _ = s.Entries(first, last()+1, 1<<30)
					beforeCopy = append([]Entry(nil), before...)
				}
				if err := s.Append(ents); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
				for i := range before {
					if before[i].Term != beforeCopy[i].Term {
						t.Fatalf("seed %d step %d: a slice handed out earlier changed at %d", seed, step, before[i].Index)
					}
				}
				model = append(model[:at-first], ents...)
			case r < 75 && len(model) > 0: // compact
				i := first + uint64(rng.IntN(len(model)))
				if err := s.Compact(i, Membership{}); err != nil {
					t.Fatal(err)
				}
				snapTerm = model[i-first].Term
				model = model[i+1-first:]
				first = i + 1
			case r < 78: // snapshot from a leader
				i := last() + uint64(rng.IntN(3000))
				term++
				s.ApplySnapshot(SnapshotMeta{Index: i, Term: term})
				model, first, snapTerm = nil, i+1, term
			}
			if f, _ := s.FirstIndex(); f != first {
				t.Fatalf("seed %d step %d: first %d, want %d", seed, step, f, first)
			}
			if l, _ := s.LastIndex(); l != last() {
				t.Fatalf("seed %d step %d: last %d, want %d", seed, step, l, last())
			}
			if tm, err := s.Term(first - 1); err != nil || tm != snapTerm {
				t.Fatalf("seed %d step %d: term(first-1) = %d, %v; want %d", seed, step, tm, err, snapTerm)
			}
			if _, err := s.Term(last() + 1); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("term beyond last: %v", err)
			}
			if first > 1 {
				if _, err := s.Entries(first-1, first, 1<<30); !errors.Is(err, ErrCompacted) {
					t.Fatalf("entries below first: %v", err)
				}
			}
			if step%8 != 0 {
				continue
			}
			// Read everything back in pieces, as the core does.
			for lo := first; lo <= last(); {
				got, err := s.Entries(lo, last()+1, uint64(1+rng.IntN(20000)))
				if err != nil || len(got) == 0 {
					t.Fatalf("seed %d step %d: entries from %d: %d, %v", seed, step, lo, len(got), err)
				}
				for _, e := range got {
					if want := model[e.Index-first]; e.Index != lo || e.Term != want.Term {
						t.Fatalf("seed %d step %d: entry %d/%d, want %d/%d", seed, step, e.Index, e.Term, lo, want.Term)
					}
					if tm, _ := s.Term(lo); tm != e.Term {
						t.Fatalf("term(%d) = %d, want %d", lo, tm, e.Term)
					}
					lo++
				}
			}
		}
	}
}
