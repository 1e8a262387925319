package consensus

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// Rule 12 (bad messages): Step refuses a message for another node, of an
// unknown type, from node 0 or from itself, and a MsgSnap without its
// snapshot — with an error, without failing the Core and without touching
// its state (not even adopting the message's term).
func TestScenarioBadInputStepRefusesMalformedMessages(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	f := c.core(2)
	term := f.Status().Term
	for _, tc := range []struct {
		name string
		m    Message
	}{
		{"for another node", Message{Type: MsgHeartbeat, From: 1, To: 3, Term: term}},
		{"for node 0", Message{Type: MsgHeartbeat, From: 1, To: 0, Term: term}},
		{"type 0", Message{Type: 0, From: 1, To: 2, Term: term + 1}},
		{"unknown type", Message{Type: MessageType(200), From: 1, To: 2, Term: term + 1}},
		{"from node 0", Message{Type: MsgApp, From: 0, To: 2, Term: term + 1}},
		{"from itself", Message{Type: MsgApp, From: 2, To: 2, Term: term + 1}},
		{"snapshot without meta", Message{Type: MsgSnap, From: 1, To: 2, Term: term + 1}},
	} {
		before := f.Status()
		if err := f.Step(tc.m); err == nil {
			t.Fatalf("%s: Step(%v) accepted", tc.name, tc.m)
		}
		if f.Err() != nil || f.Status() != before || f.HasReady() {
			t.Fatalf("%s: refused message changed the node: err=%v status %+v -> %+v", tc.name, f.Err(), before, f.Status())
		}
	}
	c.propose(1, "still-works")
	c.stabilize()
	if got := c.appliedData(2); !slices.Equal(got, []string{"still-works"}) {
		t.Fatalf("node 2 applied %v after refusing bad input", got)
	}
}

// Rule 12 (membership encoding): every valid entry round-trips through
// Encode and DecodeMembershipEntry, Encode appends to what it is given,
// and malformed bytes give ErrCorruptMembershipChange.
func TestScenarioBadInputMembershipChangeEncoding(t *testing.T) {
	result := Membership{Voters: []uint64{1, 2, 300}, Learners: []uint64{1 << 40}}
	for _, ch := range []MembershipChange{
		{AddLearner, 1}, {AddVoter, 127}, {AddVoter, 128}, {PromoteLearner, 1 << 40}, {RemoveNode, math.MaxUint64},
	} {
		e := MembershipEntry{Change: ch, Result: result}
		b := e.Encode([]byte("prefix"))
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatalf("Encode clobbered its destination: %q", b)
		}
		got, err := DecodeMembershipEntry(b[len("prefix"):])
		if err != nil || got.Change != ch || !slices.Equal(got.Result.Voters, result.Voters) || !slices.Equal(got.Result.Learners, result.Learners) {
			t.Fatalf("round trip of %+v: %+v, %v", e, got, err)
		}
	}
	for _, b := range [][]byte{
		nil,
		{},
		{1},
		{1, 1},
		{2, 1, 1, 0, 0},       // unknown version
		{1, 0, 1, 0, 0},       // type 0
		{1, 5, 1, 0, 0},       // type beyond RemoveNode
		{1, 1, 0, 0, 0},       // node 0
		{1, 1, 0x80},          // truncated varint
		{1, 1, 1, 0, 0, 0},    // trailing byte
		{1, 1, 1, 200, 1},     // more voters than bytes
		{1, 1, 1, 2, 3, 2, 0}, // voters not sorted
		{1, 1, 1, 1, 0, 0},    // voter 0
		{1, 1, 1, 1, 2, 1, 2}, // both voter and learner
		{1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0}, // varint overflow
		[]byte("garbage bytes"),
	} {
		if e, err := DecodeMembershipEntry(b); !errors.Is(err, ErrCorruptMembershipChange) {
			t.Fatalf("Decode(%v) = %+v, %v; want ErrCorruptMembershipChange", b, e, err)
		}
	}
}

// Rule 12 (config): Validate refuses each bad setting with ErrInvalidConfig
// and an error naming the setting; New refuses the same configs.
func TestScenarioBadInputConfigValidateNamesKey(t *testing.T) {
	base := func() Config {
		cfg := DefaultConfig()
		cfg.ID = 1
		cfg.Storage = NewMemoryStorage()
		cfg.Members = Membership{Voters: []uint64{1, 2, 3}}
		return cfg
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tc := range []struct {
		key string
		mod func(*Config)
	}{
		{"id", func(c *Config) { c.ID = 0 }},
		{"storage", func(c *Config) { c.Storage = nil }},
		{"heartbeat_ticks", func(c *Config) { c.HeartbeatTicks = -1 }},
		{"election_ticks", func(c *Config) { c.ElectionTicks, c.HeartbeatTicks = 3, 3 }},
		{"election_ticks", func(c *Config) { c.ElectionTicks = -10 }},
		{"lease_drift_ticks", func(c *Config) { c.LeaseDriftTicks = -1 }},
		{"lease_drift_ticks", func(c *Config) { c.LeaseDriftTicks = c.ElectionTicks }},
		{"inflight_msgs_max", func(c *Config) { c.InflightMsgsMax = -1 }},
		{"msg_entries_max", func(c *Config) { c.MsgEntriesMax = -1 }},
		{"inflight_bytes_max", func(c *Config) { c.InflightBytesMax, c.MsgBytesMax = 10, 100 }},
		{"voters", func(c *Config) { c.Members.Voters = []uint64{2, 1} }},
		{"voters", func(c *Config) { c.Members.Voters = []uint64{0, 1} }},
		{"learners", func(c *Config) { c.Members.Learners = []uint64{5, 5} }},
		{"learner", func(c *Config) { c.Members.Learners = []uint64{3} }},
	} {
		cfg := base()
		tc.mod(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.key) {
			t.Fatalf("bad %s: Validate() = %v, want ErrInvalidConfig naming %q", tc.key, err, tc.key)
		}
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("bad %s: New accepted it (%v)", tc.key, err)
		}
	}
}

// Rule 12 (bad acknowledgements): acknowledging work that was never handed
// out is refused with ErrStaleAck.
func TestScenarioBadInputStaleAcks(t *testing.T) {
	c := newCluster(t, 3)
	c.elect(1)
	lead := c.core(1)
	if err := lead.Persisted(lead.persist.handed + 1); !errors.Is(err, ErrStaleAck) {
		t.Fatalf("Persisted beyond what was handed out: %v", err)
	}
	if err := lead.Applied(lead.log.applying + 1); !errors.Is(err, ErrStaleAck) {
		t.Fatalf("Applied beyond what was handed out: %v", err)
	}
	if err := lead.SnapshotInstalled(5); !errors.Is(err, ErrStaleAck) {
		t.Fatalf("SnapshotInstalled with none handed out: %v", err)
	}
	if _, _, err := lead.Propose([]Entry{{Type: EntryNoop}}); !errors.Is(err, ErrInvalidEntryType) {
		t.Fatalf("proposing a no-op: %v, want ErrInvalidEntryType", err)
	}
	if lead.Err() != nil {
		t.Fatalf("refused calls failed the core: %v", lead.Err())
	}
}
