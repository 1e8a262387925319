package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/logstore/vfs"
)

// A slow group that wrote a few entries long ago, and never compacts,
// must not pin the segments those entries sit in: Purge copies them
// forward and the old segments go, while every entry and hard state stays
// readable, before and after a crash.
func TestPurgeSlowGroupDoesNotPinSegments(t *testing.T) {
	opts := Options{SegmentBytes: 8 << 10, PurgeThresholdBytes: 32 << 10, ManualPurge: true, GroupCacheBytesMax: 1}
	s, fs, err := OpenInMemory(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	const slow, busy = 7, 9
	data := func(g, i uint64) []byte {
		return []byte(fmt.Sprintf("group %d entry %d %s", g, i, bytes.Repeat([]byte{'x'}, 100)))
	}
	var b Batch
	for i := uint64(1); i <= 5; i++ {
		b.Append(slow, []consensus.Entry{{Term: 1, Index: i, Data: data(slow, i)}})
	}
	b.SetHardState(slow, consensus.HardState{Term: 1, Vote: 3, Commit: 5})
	mustWrite(t, s, &b)

	// The busy group writes many segments' worth and keeps compacting.
	for i := uint64(1); i <= 2000; i++ {
		b.Reset()
		b.Append(busy, []consensus.Entry{{Term: 2, Index: i, Data: data(busy, i)}})
		b.SetHardState(busy, consensus.HardState{Term: 2, Commit: i})
		if i%100 == 0 {
			b.Compact(busy, i-50, consensus.Membership{Voters: []uint64{1, 2, 3}})
		}
		mustWrite(t, s, &b)
	}
	before := s.Stats()
	if err := s.Purge(); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if after.SegmentBytes > opts.PurgeThresholdBytes {
		t.Errorf("after purge the log holds %d bytes, threshold %d", after.SegmentBytes, opts.PurgeThresholdBytes)
	}
	if after.RewrittenBytes == 0 || after.SegmentsRemoved == 0 {
		t.Errorf("purge rewrote %d bytes and removed %d segments; want both > 0 (before: %d segments)", after.RewrittenBytes, after.SegmentsRemoved, before.Segments)
	}
	names, _ := fs.List("/wal")
	if first, _ := parseSegmentName(names[0]); first == 1 {
		t.Errorf("segment 1, which held the slow group's entries, is still there: %v", names)
	}
	check := func(s *Store) {
		t.Helper()
		ents := readAll(t, s, slow)
		if len(ents) != 5 {
			t.Fatalf("slow group has %d entries, want 5", len(ents))
		}
		for _, e := range ents {
			if !bytes.Equal(e.Data, data(slow, e.Index)) || e.Term != 1 {
				t.Fatalf("slow group entry %d: term %d data %q", e.Index, e.Term, e.Data)
			}
		}
		if hs, _ := s.Storage(slow).InitialState(); hs != (consensus.HardState{Term: 1, Vote: 3, Commit: 5}) {
			t.Fatalf("slow group hard state %+v", hs)
		}
		snap, _ := s.Storage(busy).Snapshot()
		if snap.Index != 1950 || snap.Term != 2 || len(snap.Membership.Voters) != 3 {
			t.Fatalf("busy group compaction point %+v, want index 1950 term 2 with 3 voters", snap)
		}
		for _, e := range readAll(t, s, busy) {
			if !bytes.Equal(e.Data, data(busy, e.Index)) {
				t.Fatalf("busy group entry %d: %q", e.Index, e.Data)
			}
		}
	}
	check(s)
	s2, _, err := OpenInMemory(fs.Crash(), opts)
	if err != nil {
		t.Fatal(err)
	}
	check(s2)
}

func mustWrite(t testing.TB, s *Store, b *Batch) {
	t.Helper()
	if err := s.Write(b); err != nil {
		t.Fatal(err)
	}
	b.Reset()
}

// readAll reads a group's whole log, in as many calls as Entries needs.
func readAll(t testing.TB, s *Store, group uint64) []consensus.Entry {
	t.Helper()
	st := s.Storage(group)
	lo, _ := st.FirstIndex()
	last, _ := st.LastIndex()
	var all []consensus.Entry
	for lo <= last {
		ents, err := st.Entries(lo, last+1, 4<<10)
		if err != nil {
			t.Fatalf("group %d entries from %d: %v", group, lo, err)
		}
		if len(ents) == 0 || ents[0].Index != lo {
			t.Fatalf("group %d entries from %d: got %d starting at %v", group, lo, len(ents), ents)
		}
		all = append(all, ents...)
		lo += uint64(len(ents))
	}
	return all
}

// blockingRemoveFS holds every Remove until released: a slow unlink, as
// of a large segment on ext4 (about 30 ms for 64 MiB here).
type blockingRemoveFS struct {
	*vfs.MemFS
	removing chan struct{}
	release  chan struct{}
}

func (f blockingRemoveFS) Remove(name string) error {
	f.removing <- struct{}{}
	<-f.release
	return f.MemFS.Remove(name)
}

// Removing dead segments does not hold up writes: their files are
// unlinked outside the write lock.
func TestPurgeRemovesSegmentsWithoutBlockingWrites(t *testing.T) {
	fs := blockingRemoveFS{vfs.NewMem(), make(chan struct{}), make(chan struct{})}
	s, err := Open(Options{Dir: "/wal", FS: fs, SegmentBytes: 8 << 10, ManualPurge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b Batch
	for i := uint64(1); i <= 300; i++ {
		b.Reset()
		b.Append(1, []consensus.Entry{{Term: 1, Index: i, Data: bytes.Repeat([]byte{'x'}, 100)}})
		mustWrite(t, s, &b)
	}
	b.Reset()
	b.Compact(1, 300, consensus.Membership{Voters: []uint64{1}})
	mustWrite(t, s, &b)
	purged := make(chan error, 1)
	go func() { purged <- s.Purge() }()
	<-fs.removing // Purge is unlinking a dead segment
	b.Reset()
	b.Append(1, []consensus.Entry{{Term: 1, Index: 301, Data: []byte("during the unlink")}})
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(&b) }()
	var err2 error
	select {
	case err2 = <-wrote:
	case <-time.After(10 * time.Second):
		err2 = errors.New("a write waited 10 s for a segment's unlink")
	}
	close(fs.release)
	go func() {
		for range fs.removing {
		}
	}()
	if err2 != nil {
		t.Fatal(err2)
	}
	if err := <-purged; err != nil {
		t.Fatal(err)
	}
	close(fs.removing)
	if st := s.Stats(); st.SegmentsRemoved == 0 {
		t.Fatal("no segment removed")
	}
	if ents := readAll(t, s, 1); len(ents) != 1 || ents[0].Index != 301 {
		t.Fatalf("after the purge the group holds %d entries, want only 301", len(ents))
	}
}
