package bench

import (
	"bytes"
	"slices"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// TestImplementationsAgree writes a few group commits through each
// implementation, with small segments so that logstore and raw rotate, and
// reads everything back: from the open store, then from a reopened one (raw,
// which has no index, from its files). Entry data sizes and types vary.
func TestImplementationsAgree(t *testing.T) {
	const (
		size, groups, perGroup, writes = 300, 5, 3, 24
		segmentBytes                   = 16 << 10 // about 7 writes per file
	)
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := impl.open(dir, segmentBytes)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorkload(size, groups, perGroup, true)
			var all [][]groupWrite
			for range writes {
				ws := w.next()
				if err := s.write(ws); err != nil {
					t.Fatal(err)
				}
				all = append(all, slices.Clone(ws))
			}
			entries, syncs, _ := s.counters()
			if entries != writes*groups*perGroup || syncs < 1 {
				t.Errorf("counters: %d entries in %d syncs, wrote %d entries in %d writes",
					entries, syncs, writes*groups*perGroup, writes)
			}
			if syncs != writes {
				t.Logf("%d syncs for %d writes", syncs, writes)
			}
			if sg, ok := s.(segmenter); ok && sg.segments() < 2 {
				t.Errorf("wrote %d segments, want at least 2: rotation is not tested", sg.segments())
			}
			if r, ok := s.(reader); ok {
				checkReader(t, "open", r, all)
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			if raw, ok := s.(*rawLog); ok {
				checkRaw(t, raw, all)
				return
			}
			s, err = impl.open(dir, segmentBytes)
			if err != nil {
				t.Fatal(err)
			}
			defer s.close()
			checkReader(t, "reopened", s.(reader), all)
		})
	}
}

// segmenter is a store that rotates files: logstore and raw.
type segmenter interface{ segments() uint64 }

func (l *logstoreStore) segments() uint64 { return l.s.Stats().Rotations }
func (r *rawLog) segments() uint64        { return uint64(r.seg) }

// checkReader reads back every entry and every group's last hard state.
func checkReader(t *testing.T, when string, r reader, all [][]groupWrite) {
	t.Helper()
	last := map[uint64]consensus.HardState{}
	for _, ws := range all {
		for _, w := range ws {
			for _, want := range w.ents {
				got, err := r.entry(w.group, want.Index)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if !equalEntry(got, want) {
					t.Fatalf("%s: group %d index %d: got term %d type %v %d bytes, want term %d type %v %d bytes",
						when, w.group, want.Index, got.Term, got.Type, len(got.Data), want.Term, want.Type, len(want.Data))
				}
			}
			last[w.group] = w.hs
		}
	}
	for g, want := range last {
		got, err := r.hardState(g)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got != want {
			t.Fatalf("%s: group %d hard state %+v, want %+v", when, g, got, want)
		}
	}
}

func equalEntry(a, b consensus.Entry) bool {
	return a.Term == b.Term && a.Index == b.Index && a.Type == b.Type && bytes.Equal(a.Data, b.Data)
}

// checkRaw checks that each write's bytes in raw's files are its entries'
// data, concatenated in order.
func checkRaw(t *testing.T, r *rawLog, all [][]groupWrite) {
	t.Helper()
	got, err := r.written()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("raw: %d writes read back, wrote %d", len(got), len(all))
	}
	for i, ws := range all {
		var want []byte
		for _, w := range ws {
			for _, e := range w.ents {
				want = append(want, e.Data...)
			}
		}
		if !bytes.Equal(got[i], want) {
			t.Fatalf("raw: write %d: read back %d bytes that differ from the %d written", i, len(got[i]), len(want))
		}
	}
}
