package consensus

import "testing"

// TestBug_HasReadyWhileSnapshotInstalling: HasReady must report whether
// Ready would hand out anything. While a snapshot is being installed
// (handed out, not yet acknowledged by SnapshotInstalled), entries that
// commit after it are held back by Ready (ready.go, `if
// c.snapshotInstalling == 0`), but HasReady still counts them
// (log.hasNextCommitted), so HasReady stays true while Ready returns empty
// Readys: a `for core.HasReady() { core.Ready() ... }` loop spins until the
// install finishes. (Found against the first version of ready.go; the
// working tree now guards hasNextCommitted with snapshotInstalling == 0,
// and this test stays as a regression test.)
func TestBug_HasReadyWhileSnapshotInstalling(t *testing.T) {
	s := NewMemoryStorage()
	core, err := New(testConfig(2, s, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	persist := func(rd Ready) {
		if rd.Snapshot != nil {
			s.ApplySnapshot(*rd.Snapshot)
		}
		must(s.Append(rd.Entries))
		s.SetHardState(rd.HardState)
		must(core.Persisted(rd.PersistSeq))
	}
	snap := SnapshotMeta{Index: 5, Term: 1, Membership: Membership{Voters: []uint64{1, 2, 3}}}
	must(core.Step(Message{Type: MsgSnap, From: 1, To: 2, Term: 1, Snapshot: &snap}))
	rd := core.Ready()
	if rd.Snapshot == nil {
		t.Fatal("setup: no snapshot handed out")
	}
	persist(rd) // persisted; the state machine is still loading it
	core.Ready()
	must(core.Step(Message{Type: MsgApp, From: 1, To: 2, Term: 1, Index: 5, LogTerm: 1, Commit: 6,
		Entries: []Entry{{Term: 1, Index: 6, Data: []byte("x")}}}))
	persist(core.Ready())
	core.Ready() // the append's acknowledgement

	if core.HasReady() {
		rd := core.Ready()
		if len(rd.Messages) == 0 && rd.PersistSeq == 0 && len(rd.Committed) == 0 && len(rd.ReadStates) == 0 && rd.Snapshot == nil {
			t.Fatalf("HasReady is true but Ready hands out nothing (snapshot install pending, entry 6 committed)")
		}
	}
	must(core.SnapshotInstalled(5))
	if rd := core.Ready(); len(rd.Committed) != 1 || rd.Committed[0].Index != 6 {
		t.Fatalf("after the install, Ready hands out %v, want entry 6", rd.Committed)
	}
}

// TestBug_ZeroLeaseDriftTicksNotDefaulted: Config says "Zero values take
// the defaults of DefaultConfig, except ID and Storage", and DefaultConfig
// has LeaseDriftTicks 1; but fillDefaults (config.go) never defaults
// LeaseDriftTicks, so a Config built field by field runs leases with no
// clock-drift margin at all (expiry t+ElectionTicks instead of
// t+ElectionTicks-1). Either the default should apply, or the doc should
// say that 0 means no margin (and DefaultConfig is the safe start).
// (Found against the first version of config.go; the working tree now
// defaults it and requires at least 1; this stays as a regression test.)
func TestBug_ZeroLeaseDriftTicksNotDefaulted(t *testing.T) {
	core, err := New(Config{ID: 1, Storage: NewMemoryStorage(), Members: Membership{Voters: []uint64{1}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := core.cfg.LeaseDriftTicks, DefaultConfig().LeaseDriftTicks; got != want {
		t.Fatalf("zero LeaseDriftTicks became %d, want DefaultConfig's %d", got, want)
	}
}
