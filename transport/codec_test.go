package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// ---------------------------------------------------------------------------
// Generators and helpers shared by the codec, frame, writer and fuzz tests.
// ---------------------------------------------------------------------------

// newWireRand returns a generator seeded from TRANSPORT_TEST_SEED, or at
// random. The seed is logged, so a failure can be replayed.
func newWireRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("TRANSPORT_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TRANSPORT_TEST_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("random seed %d (replay with TRANSPORT_TEST_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// allMessageTypes lists every valid message type, MsgApp..MsgTimeoutNow,
// and fails if Valid disagrees with that range (a new type must get a
// generator case here before the codec tests can claim to cover it).
func allMessageTypes(t testing.TB) []consensus.MessageType {
	t.Helper()
	var ts []consensus.MessageType
	for i := 0; i < 256; i++ {
		if consensus.MessageType(i).Valid() {
			ts = append(ts, consensus.MessageType(i))
		}
	}
	if len(ts) != int(consensus.MsgTimeoutNow-consensus.MsgApp+1) || ts[0] != consensus.MsgApp || ts[len(ts)-1] != consensus.MsgTimeoutNow {
		t.Fatalf("valid message types are %v, want MsgApp..MsgTimeoutNow", ts)
	}
	return ts
}

var allEntryTypes = []consensus.EntryType{consensus.EntryNormal, consensus.EntryNoop, consensus.EntryMembership}

// randWireValue returns a uint64 biased towards what breaks varint codecs:
// zero, small values, values at the 7-bit group boundaries and values near
// 2^64-1.
func randWireValue(r *rand.Rand) uint64 {
	switch r.IntN(8) {
	case 0:
		return 0
	case 1:
		return 1 + r.Uint64N(127)
	case 2: // 2^k-1, 2^k, 2^k+1 for k a multiple of 7: a varint grows a byte
		k := 7 * (1 + r.UintN(9))
		return uint64(1)<<k - 1 + r.Uint64N(3)
	case 3:
		return math.MaxUint64 - r.Uint64N(4)
	case 4:
		return r.Uint64() >> r.UintN(64)
	default:
		return r.Uint64()
	}
}

// randSparseValue is zero three times out of four, else randWireValue.
func randSparseValue(r *rand.Rand, sparse bool) uint64 {
	if sparse && r.IntN(4) != 0 {
		return 0
	}
	return randWireValue(r)
}

// randBytes returns nil, an empty slice, or random bytes (rarely long
// enough for a two-byte length varint).
func randBytes(r *rand.Rand) []byte {
	var n int
	switch r.IntN(8) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		n = 128 + r.IntN(300)
	default:
		n = 1 + r.IntN(40)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// lastEntryIndexMax is the largest last entry index the generators use.
const lastEntryIndexMax = math.MaxUint64

// randEntries returns nil, an empty slice, or contiguous entries starting
// anywhere, including near the top of the index space.
func randEntries(r *rand.Rand) []consensus.Entry {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []consensus.Entry{}
	}
	n := 1 + r.IntN(6)
	first := randWireValue(r)
	if limit := uint64(lastEntryIndexMax) - uint64(n-1); first > limit {
		first = limit - r.Uint64N(3)
	}
	ents := make([]consensus.Entry, n)
	for i := range ents {
		ents[i] = consensus.Entry{
			Index: first + uint64(i),
			Term:  randWireValue(r),
			Type:  allEntryTypes[r.IntN(len(allEntryTypes))],
			Data:  randBytes(r),
		}
	}
	return ents
}

// randIDs returns nil, an empty slice or a few node IDs.
func randIDs(r *rand.Rand) []uint64 {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []uint64{}
	}
	ids := make([]uint64, 1+r.IntN(7))
	for i := range ids {
		ids[i] = randWireValue(r)
	}
	return ids
}

// randWireMsg returns a message of type typ with random values in every
// field, From and To included (the codec replaces them with the frame's).
func randWireMsg(r *rand.Rand, typ consensus.MessageType) Msg {
	sparse := r.IntN(3) == 0
	m := Msg{Group: randSparseValue(r, sparse)}
	m.Type = typ
	m.From, m.To = randWireValue(r), randWireValue(r)
	m.Term = randSparseValue(r, sparse)
	m.LogTerm = randSparseValue(r, sparse)
	m.Index = randSparseValue(r, sparse)
	m.Commit = randSparseValue(r, sparse)
	m.RejectHint = randSparseValue(r, sparse)
	m.Round = randSparseValue(r, sparse)
	m.Context = randSparseValue(r, sparse)
	m.Reject = r.IntN(2) == 0
	m.Force = r.IntN(2) == 0
	if !sparse || r.IntN(4) == 0 {
		m.Entries = randEntries(r)
	}
	if r.IntN(3) == 0 {
		m.Snapshot = &consensus.SnapshotMeta{
			Index: randWireValue(r),
			Term:  randWireValue(r),
			Membership: consensus.Membership{
				Voters:   randIDs(r),
				Learners: randIDs(r),
			},
		}
	}
	return m
}

// wireEquivalent returns m as the codec delivers it: From and To are the
// frame's, and an empty Entries, Data, Voters or Learners is nil. m itself
// is not modified.
func wireEquivalent(m Msg, from, to uint64) Msg {
	m.From, m.To = from, to
	if len(m.Entries) == 0 {
		m.Entries = nil
	} else {
		ents := make([]consensus.Entry, len(m.Entries))
		copy(ents, m.Entries)
		for i := range ents {
			if len(ents[i].Data) == 0 {
				ents[i].Data = nil
			}
		}
		m.Entries = ents
	}
	if m.Snapshot != nil {
		s := *m.Snapshot
		if len(s.Membership.Voters) == 0 {
			s.Membership.Voters = nil
		}
		if len(s.Membership.Learners) == 0 {
			s.Membership.Learners = nil
		}
		m.Snapshot = &s
	}
	return m
}

// dumpMsg shows every field of m (Message.String leaves some out).
func dumpMsg(m Msg) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{group=%d %v from=%d to=%d term=%d logterm=%d index=%d commit=%d hint=%d round=%d ctx=%d reject=%t force=%t",
		m.Group, m.Type, m.From, m.To, m.Term, m.LogTerm, m.Index, m.Commit, m.RejectHint, m.Round, m.Context, m.Reject, m.Force)
	if m.Entries == nil {
		b.WriteString(" entries=nil")
	} else {
		b.WriteString(" entries=[")
		for _, e := range m.Entries {
			fmt.Fprintf(&b, " (%d,%d,%v,%x nil=%t)", e.Index, e.Term, e.Type, e.Data, e.Data == nil)
		}
		b.WriteString(" ]")
	}
	if s := m.Snapshot; s != nil {
		fmt.Fprintf(&b, " snap=(%d,%d,v=%v nil=%t,l=%v nil=%t)", s.Index, s.Term,
			s.Membership.Voters, s.Membership.Voters == nil, s.Membership.Learners, s.Membership.Learners == nil)
	}
	b.WriteString("}")
	return b.String()
}

// requireSameMsgs fails unless got and want are deeply equal, naming the
// first message that differs.
func requireSameMsgs(t testing.TB, got, want []Msg) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("message %d differs:\n got  %s\n want %s", i, dumpMsg(got[i]), dumpMsg(want[i]))
		}
	}
}

// encodeMessagesPayload returns a messages payload holding msgs.
func encodeMessagesPayload(t testing.TB, from, to uint64, msgs []Msg) []byte {
	t.Helper()
	buf := appendMessagesHeader(nil, from, to)
	for i := range msgs {
		var err error
		if buf, err = appendMessage(buf, &msgs[i]); err != nil {
			t.Fatalf("appendMessage(%s): %v", dumpMsg(msgs[i]), err)
		}
	}
	return buf
}

func uvarintBytes(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func concatBytes(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// requireErrorIs fails unless err wraps want.
func requireErrorIs(t testing.TB, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("got %v (kind %v), want an error wrapping %v", err, KindOf(err), want)
	}
}

// allocatedBytes returns how many bytes f allocates on the heap.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// ---------------------------------------------------------------------------
// Messages: round trips.
// ---------------------------------------------------------------------------

// TestMessagesRoundTripEveryType encodes frames of random messages, each
// frame led by one type and mixed with others, and checks that decoding
// gives them back and that re-encoding gives the same bytes.
func TestMessagesRoundTripEveryType(t *testing.T) {
	r := newWireRand(t)
	types := allMessageTypes(t)
	const framesPerType = 250
	total := 0
	for _, typ := range types {
		for i := 0; i < framesPerType; i++ {
			from, to := randWireValue(r), randWireValue(r)
			msgs := make([]Msg, 1+r.IntN(6))
			for j := range msgs {
				mt := typ
				if j > 0 && r.IntN(2) == 0 {
					mt = types[r.IntN(len(types))]
				}
				msgs[j] = randWireMsg(r, mt)
			}
			payload := encodeMessagesPayload(t, from, to, msgs)

			// Decoding appends after what dst already holds.
			prefix := []Msg{{Group: 42}}
			got, gotFrom, gotTo, err := decodeMessages(payload, prefix)
			if err != nil {
				t.Fatalf("%v frame %d: decode: %v\nmessages: %v", typ, i, err, msgs)
			}
			if gotFrom != from || gotTo != to {
				t.Fatalf("%v frame %d: decoded from %d to %d, want %d to %d", typ, i, gotFrom, gotTo, from, to)
			}
			if !reflect.DeepEqual(got[0], prefix[0]) {
				t.Fatalf("decodeMessages overwrote dst[0]: %s", dumpMsg(got[0]))
			}
			want := make([]Msg, len(msgs))
			for j := range msgs {
				want[j] = wireEquivalent(msgs[j], from, to)
			}
			requireSameMsgs(t, got[1:], want)

			// The encoding is canonical: what was decoded encodes to the
			// same bytes.
			if again := encodeMessagesPayload(t, from, to, got[1:]); !bytes.Equal(again, payload) {
				t.Fatalf("%v frame %d: re-encoding differs:\n got  %x\n want %x", typ, i, again, payload)
			}
			total += len(msgs)
		}
	}
	t.Logf("%d messages in %d frames", total, framesPerType*len(types))
}

// TestMessagesRoundTripEdgeValues covers, for every type, a message with
// every field zero and one with every field at its largest.
func TestMessagesRoundTripEdgeValues(t *testing.T) {
	const max = math.MaxUint64
	for _, typ := range allMessageTypes(t) {
		zero := Msg{}
		zero.Type = typ
		full := Msg{Group: max}
		full.Message = consensus.Message{
			Type: typ, From: max, To: max, Term: max, LogTerm: max, Index: max, Commit: max,
			RejectHint: max, Round: max, Context: max, Reject: true, Force: true,
			Entries: []consensus.Entry{
				{Index: lastEntryIndexMax - 2, Term: max, Type: consensus.EntryMembership, Data: []byte{0xff}},
				{Index: lastEntryIndexMax - 1, Term: 0, Type: consensus.EntryNoop},
				{Index: lastEntryIndexMax, Term: 1, Type: consensus.EntryNormal, Data: []byte{}},
			},
			Snapshot: &consensus.SnapshotMeta{Index: max, Term: max, Membership: consensus.Membership{
				Voters: []uint64{max, 0, 1}, Learners: []uint64{max}}},
		}
		emptySnap := Msg{Group: 7}
		emptySnap.Type = typ
		emptySnap.Snapshot = &consensus.SnapshotMeta{}
		firstIndexZero := Msg{}
		firstIndexZero.Type = typ
		firstIndexZero.Entries = []consensus.Entry{{Index: 0}, {Index: 1, Data: []byte{}}}
		for _, c := range []struct {
			name string
			m    Msg
		}{{"zero", zero}, {"max", full}, {"empty snapshot", emptySnap}, {"entries from index 0", firstIndexZero}} {
			for _, ends := range [][2]uint64{{0, 0}, {1, 2}, {max, max}} {
				payload := encodeMessagesPayload(t, ends[0], ends[1], []Msg{c.m})
				got, from, to, err := decodeMessages(payload, nil)
				if err != nil {
					t.Fatalf("%v %s: %v", typ, c.name, err)
				}
				if from != ends[0] || to != ends[1] {
					t.Fatalf("%v %s: from %d to %d, want %v", typ, c.name, from, to, ends)
				}
				requireSameMsgs(t, got, []Msg{wireEquivalent(c.m, ends[0], ends[1])})
			}
		}
	}
}

// TestMessagesZeroFieldsCostNothing checks the claim of the format: a
// message with only a type costs group, type and field set.
func TestMessagesZeroFieldsCostNothing(t *testing.T) {
	m := Msg{}
	m.Type = consensus.MsgHeartbeat
	m.From, m.To = 5, 6 // travel per frame, not per message
	b, err := appendMessage(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, byte(consensus.MsgHeartbeat), 0}; !bytes.Equal(b, want) {
		t.Fatalf("encoding %x, want %x", b, want)
	}
}

// TestMessagesEmptyPayloadHasNoMessages: a frame of only from and to is
// valid and carries nothing.
func TestMessagesEmptyPayloadHasNoMessages(t *testing.T) {
	got, from, to, err := decodeMessages(appendMessagesHeader(nil, 3, 4), nil)
	if err != nil || len(got) != 0 || from != 3 || to != 4 {
		t.Fatalf("got %v from %d to %d err %v", got, from, to, err)
	}
}

// TestMessagesDecodedDataIsCapped: entry data aliases the payload but its
// capacity ends with it, so appending to one entry cannot overwrite the
// next one's bytes.
func TestMessagesDecodedDataIsCapped(t *testing.T) {
	m := Msg{}
	m.Type = consensus.MsgApp
	m.Entries = []consensus.Entry{{Index: 1, Data: []byte("abc")}, {Index: 2, Data: []byte("def")}}
	payload := encodeMessagesPayload(t, 1, 2, []Msg{m})
	got, _, _, err := decodeMessages(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := got[0].Entries[0].Data
	if cap(d) != len(d) {
		t.Fatalf("entry data has len %d cap %d", len(d), cap(d))
	}
	_ = append(d, 'X', 'X', 'X', 'X', 'X', 'X')
	if string(got[0].Entries[1].Data) != "def" {
		t.Fatalf("appending to entry 0 changed entry 1 to %q", got[0].Entries[1].Data)
	}
}

// TestMessagesDecodedEntriesAreCapped: the entries of the messages of a
// frame may share one allocation, but each message's slice ends with it,
// so appending to one message's entries cannot overwrite the next's.
func TestMessagesDecodedEntriesAreCapped(t *testing.T) {
	var msgs []Msg
	for i := uint64(0); i < 3; i++ {
		m := Msg{Group: i}
		m.Type = consensus.MsgApp
		m.Entries = []consensus.Entry{{Index: 10 * (i + 1), Term: i + 1}, {Index: 10*(i+1) + 1, Term: i + 1}}
		msgs = append(msgs, m)
	}
	got, _, _, err := decodeMessages(encodeMessagesPayload(t, 1, 2, msgs), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if e := got[i].Entries; cap(e) != len(e) {
			t.Fatalf("message %d: entries have len %d cap %d", i, len(e), cap(e))
		}
	}
	_ = append(got[0].Entries, consensus.Entry{Index: 999, Term: 999})
	want := make([]Msg, len(msgs))
	for i := range msgs {
		want[i] = wireEquivalent(msgs[i], 1, 2)
	}
	requireSameMsgs(t, got, want)
}

// TestAppendMessageRefusesUnencodable: what the codec cannot carry is
// refused with ErrMalformed and leaves buf as it was.
func TestAppendMessageRefusesUnencodable(t *testing.T) {
	app := func(ents ...consensus.Entry) Msg {
		m := Msg{}
		m.Type = consensus.MsgApp
		m.Entries = ents
		return m
	}
	invalidType := func(typ consensus.MessageType) Msg {
		m := Msg{}
		m.Type = typ
		return m
	}
	for _, c := range []struct {
		name string
		m    Msg
	}{
		{"type 0", invalidType(0)},
		{"type past MsgTimeoutNow", invalidType(consensus.MsgTimeoutNow + 1)},
		{"type 255", invalidType(255)},
		{"gap in entries", app(consensus.Entry{Index: 5}, consensus.Entry{Index: 7})},
		{"repeated index", app(consensus.Entry{Index: 5}, consensus.Entry{Index: 5})},
		{"descending entries", app(consensus.Entry{Index: 5}, consensus.Entry{Index: 4})},
		{"gap after a contiguous run", app(consensus.Entry{Index: 1}, consensus.Entry{Index: 2}, consensus.Entry{Index: 4})},
	} {
		t.Run(c.name, func(t *testing.T) {
			buf := []byte("prefix")
			out, err := appendMessage(buf, &c.m)
			requireErrorIs(t, err, ErrMalformed)
			if string(out) != "prefix" {
				t.Fatalf("refused message left %q", out)
			}
		})
	}
}

// TestAppendMessageRefusesWhatDecodeRejects: appendMessage must refuse
// every message decodeMessages would reject, or a writer ships a frame the
// receiver refuses whole, losing every other message in it.
func TestAppendMessageRefusesWhatDecodeRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		ents []consensus.Entry
	}{
		{"indexes wrap past 2^64-1", []consensus.Entry{{Index: math.MaxUint64}, {Index: 0}}},
		{"indexes wrap, longer run", []consensus.Entry{{Index: math.MaxUint64 - 1}, {Index: math.MaxUint64}, {Index: 0}, {Index: 1}}},
		{"unknown entry type", []consensus.Entry{{Index: 9, Type: consensus.EntryMembership + 1}}},
		{"entry type 255", []consensus.Entry{{Index: 9, Type: 255}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := Msg{Group: 1}
			m.Type = consensus.MsgApp
			m.Entries = c.ents
			buf, err := appendMessage(appendMessagesHeader(nil, 1, 2), &m)
			if err != nil {
				requireErrorIs(t, err, ErrMalformed)
				return
			}
			if _, _, _, derr := decodeMessages(buf, nil); derr != nil {
				t.Fatalf("appendMessage accepted a message that decodeMessages rejects (%v); it should return ErrMalformed", derr)
			}
		})
	}
}

// TestMessagesRoundTripEntriesEndingAtMaxIndex: entries whose last index is
// 2^64-1 do not overflow, the encoder accepts them, and the decoder must
// too.
func TestMessagesRoundTripEntriesEndingAtMaxIndex(t *testing.T) {
	for _, n := range []int{1, 3} {
		m := Msg{Group: 1}
		m.Type = consensus.MsgApp
		for i := 0; i < n; i++ {
			m.Entries = append(m.Entries, consensus.Entry{Index: math.MaxUint64 - uint64(n-1-i), Term: 1, Data: []byte{byte(i)}})
		}
		payload := encodeMessagesPayload(t, 1, 2, []Msg{m})
		got, _, _, err := decodeMessages(payload, nil)
		if err != nil {
			t.Errorf("%d entries ending at index 2^64-1: encoded, but decoding fails: %v", n, err)
			continue
		}
		requireSameMsgs(t, got, []Msg{wireEquivalent(m, 1, 2)})
	}
}

// ---------------------------------------------------------------------------
// Messages: rejection.
// ---------------------------------------------------------------------------

// TestDecodeMessagesRejectsMalformed feeds hand-built bad payloads; each
// must fail with ErrMalformed.
func TestDecodeMessagesRejectsMalformed(t *testing.T) {
	u := uvarintBytes
	hdr := concatBytes(u(1), u(2))
	good := func() []byte { // a valid message to lead with
		m := Msg{Group: 3}
		m.Type = consensus.MsgApp
		m.Term = 4
		m.Entries = []consensus.Entry{{Index: 10, Term: 4, Data: []byte("x")}}
		b, err := appendMessage(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	app := byte(consensus.MsgApp)
	msg := func(present uint64, rest ...[]byte) []byte {
		return concatBytes(hdr, u(7), []byte{app}, u(present), concatBytes(rest...))
	}
	overlong := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02} // > 2^64-1
	cases := []struct {
		name    string
		payload []byte
	}{
		{"empty payload", nil},
		{"truncated sender varint", []byte{0x80}},
		{"sender overflows uint64", overlong},
		{"missing receiver", u(1)},
		{"truncated receiver", concatBytes(u(1), []byte{0x81})},
		{"truncated group", concatBytes(hdr, []byte{0x80})},
		{"group overflows", concatBytes(hdr, overlong)},
		{"missing type", concatBytes(hdr, u(7))},
		{"type 0", concatBytes(hdr, u(7), []byte{0}, u(0))},
		{"type past MsgTimeoutNow", concatBytes(hdr, u(7), []byte{byte(consensus.MsgTimeoutNow + 1)}, u(0))},
		{"type 255", concatBytes(hdr, u(7), []byte{255}, u(0))},
		{"missing field set", concatBytes(hdr, u(7), []byte{app})},
		{"truncated field set", concatBytes(hdr, u(7), []byte{app, 0x80})},
		{"unknown field bit 11", msg(1 << 11)},
		{"unknown field bit 63", msg(1 << 63)},
		{"missing term", msg(fieldTerm)},
		{"truncated term", msg(fieldTerm, []byte{0x80, 0x80})},
		{"second field missing", msg(fieldTerm|fieldCommit, u(5))},
		{"entries: missing count", msg(fieldEntries)},
		{"entries: count 0", msg(fieldEntries, u(0), u(1))},
		{"entries: count beyond remaining bytes", msg(fieldEntries, u(2), u(1), u(1), []byte{0}, u(0))},
		{"entries: count 2^60", msg(fieldEntries, u(1<<60), u(1), u(1), []byte{0}, u(0))},
		{"entries: missing first index", msg(fieldEntries, u(1))},
		{"entries: first index overflows with 2", msg(fieldEntries, u(2), u(math.MaxUint64), u(1), []byte{0}, u(0), u(1), []byte{0}, u(0))},
		{"entries: first index overflows with 5", msg(fieldEntries, u(5), u(math.MaxUint64-3), bytes.Repeat([]byte{1, 0, 0}, 5))},
		{"entries: missing term", msg(fieldEntries, u(1), u(1))},
		{"entries: missing type", msg(fieldEntries, u(1), u(1), u(1))},
		{"entries: type past EntryMembership", msg(fieldEntries, u(1), u(1), u(1), []byte{byte(consensus.EntryMembership + 1)}, u(0))},
		{"entries: type 255", msg(fieldEntries, u(1), u(1), u(1), []byte{255}, u(0))},
		{"entries: missing data length", msg(fieldEntries, u(1), u(1), u(1), []byte{0})},
		{"entries: data beyond payload", msg(fieldEntries, u(1), u(1), u(1), []byte{0}, u(5), []byte("abcd"))},
		{"entries: data length 2^62", msg(fieldEntries, u(1), u(1), u(1), []byte{0}, u(1<<62), []byte("abcd"))},
		{"entries: second entry truncated", msg(fieldEntries, u(2), u(1), u(1), []byte{0}, u(0), u(1), []byte{0})},
		{"snapshot: missing index", msg(fieldSnapshot)},
		{"snapshot: missing term", msg(fieldSnapshot, u(1))},
		{"snapshot: missing voter count", msg(fieldSnapshot, u(1), u(1))},
		{"snapshot: voter count beyond remaining bytes", msg(fieldSnapshot, u(1), u(1), u(3), u(1), u(2))},
		{"snapshot: voter count 2^60", msg(fieldSnapshot, u(1), u(1), u(1<<60), u(1), u(0))},
		{"snapshot: truncated voter", msg(fieldSnapshot, u(1), u(1), u(2), u(1), []byte{0x80})},
		{"snapshot: missing learner count", msg(fieldSnapshot, u(1), u(1), u(1), u(1))},
		{"snapshot: learner count beyond remaining bytes", msg(fieldSnapshot, u(1), u(1), u(0), u(2), u(1))},
		{"good message then a lone byte", concatBytes(hdr, good, []byte{5})},
		{"good message then a truncated one", concatBytes(hdr, good, good[:len(good)-1])},
	}
	for i, f := range []string{"Term", "LogTerm", "Index", "Commit", "RejectHint", "Round", "Context"} {
		cases = append(cases, struct {
			name    string
			payload []byte
		}{"present but zero " + f, msg(1<<i, u(0))})
		cases = append(cases, struct {
			name    string
			payload []byte
		}{"present but zero " + f + " (overlong zero)", msg(1<<i, []byte{0x80, 0x00})})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := decodeMessages(c.payload, nil)
			requireErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestDecodeMessagesHostileCountsDoNotAllocate: a count or length the
// remaining bytes could not hold fails before anything is allocated for
// it. A decoder that trusted 1<<24 entries would allocate about 800 MB.
func TestDecodeMessagesHostileCountsDoNotAllocate(t *testing.T) {
	u := uvarintBytes
	msg := func(present uint64, rest ...[]byte) []byte {
		return concatBytes(u(1), u(2), u(7), []byte{byte(consensus.MsgApp)}, u(present), concatBytes(rest...))
	}
	tail := bytes.Repeat([]byte{1, 0, 0}, 8) // room for 8 minimal entries
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"entry count 2^60", msg(fieldEntries, u(1<<60), u(1), tail)},
		{"entry count 2^32", msg(fieldEntries, u(1<<32), u(1), tail)},
		{"entry count 2^24", msg(fieldEntries, u(1<<24), u(1), tail)},
		{"entry count one more than fits", msg(fieldEntries, u(uint64(len(tail)/minEntryBytes+1)), u(1), tail)},
		{"entry data length 2^40", msg(fieldEntries, u(1), u(1), u(1), []byte{0}, u(1<<40), tail)},
		{"voter count 2^24", msg(fieldSnapshot, u(1), u(1), u(1<<24), tail)},
		{"learner count 2^60", msg(fieldSnapshot, u(1), u(1), u(0), u(1<<60), tail)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			const runs = 10
			n := allocatedBytes(func() {
				for i := 0; i < runs; i++ {
					_, _, _, err = decodeMessages(c.payload, nil)
				}
			})
			requireErrorIs(t, err, ErrMalformed)
			if n > 64<<10 {
				t.Fatalf("%d decodes of a %d-byte payload allocated %d bytes", runs, len(c.payload), n)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Heartbeats.
// ---------------------------------------------------------------------------

// randHeartbeat returns a coalescible heartbeat (resp false) or heartbeat
// response (resp true) with random values.
func randHeartbeat(r *rand.Rand, resp bool) Msg {
	m := Msg{Group: randWireValue(r)}
	m.From, m.To = randWireValue(r), randWireValue(r)
	m.Term, m.Round = randWireValue(r), randWireValue(r)
	if resp {
		m.Type = consensus.MsgHeartbeatResp
	} else {
		m.Type = consensus.MsgHeartbeat
		m.Commit = randWireValue(r)
	}
	return m
}

func appendHeartbeatTuple(buf []byte, m *Msg, resp bool) []byte {
	if resp {
		return appendHeartbeatResp(buf, m)
	}
	return appendHeartbeat(buf, m)
}

// TestHeartbeatsRoundTrip encodes random heartbeat and heartbeat response
// tuples and decodes them back.
func TestHeartbeatsRoundTrip(t *testing.T) {
	r := newWireRand(t)
	for _, resp := range []bool{false, true} {
		for i := 0; i < 500; i++ {
			from, to := randWireValue(r), randWireValue(r)
			hbs := make([]Msg, r.IntN(20))
			payload := appendMessagesHeader(nil, from, to)
			want := make([]Msg, len(hbs))
			for j := range hbs {
				hbs[j] = randHeartbeat(r, resp)
				if resp && !isCoalescibleHeartbeatResp(&hbs[j]) || !resp && !isCoalescibleHeartbeat(&hbs[j]) {
					t.Fatalf("generated heartbeat is not coalescible: %s", dumpMsg(hbs[j]))
				}
				payload = appendHeartbeatTuple(payload, &hbs[j], resp)
				want[j] = wireEquivalent(hbs[j], from, to)
			}
			got, gotFrom, gotTo, err := decodeHeartbeats(payload, resp, nil)
			if err != nil {
				t.Fatalf("resp=%t: %v", resp, err)
			}
			if gotFrom != from || gotTo != to {
				t.Fatalf("resp=%t: from %d to %d, want %d %d", resp, gotFrom, gotTo, from, to)
			}
			if len(hbs) == 0 {
				want = nil
			}
			requireSameMsgs(t, got, want)
			again := appendMessagesHeader(nil, from, to)
			for j := range got {
				again = appendHeartbeatTuple(again, &got[j], resp)
			}
			if !bytes.Equal(again, payload) {
				t.Fatalf("resp=%t: re-encoding differs", resp)
			}
		}
	}
}

// TestCoalescingLosesNoField: for random messages of every type, whenever
// isCoalescibleHeartbeat(Resp) says a tuple describes a message, the tuple
// round trip gives back exactly the message.
func TestCoalescingLosesNoField(t *testing.T) {
	r := newWireRand(t)
	coalesced := [2]int{}
	for _, typ := range allMessageTypes(t) {
		for i := 0; i < 2000; i++ {
			m := randWireMsg(r, typ)
			if r.IntN(2) == 0 { // make the tuple-only case common
				keep := Msg{Group: m.Group}
				keep.Type, keep.Term, keep.Commit, keep.Round = m.Type, m.Term, m.Commit, m.Round
				m = keep
			}
			hb, hbResp := isCoalescibleHeartbeat(&m), isCoalescibleHeartbeatResp(&m)
			if hb && hbResp {
				t.Fatalf("both predicates hold for %s", dumpMsg(m))
			}
			if (hb || hbResp) && typ != consensus.MsgHeartbeat && typ != consensus.MsgHeartbeatResp {
				t.Fatalf("%v is coalescible: %s", typ, dumpMsg(m))
			}
			if !hb && !hbResp {
				continue
			}
			payload := appendHeartbeatTuple(appendMessagesHeader(nil, 8, 9), &m, hbResp)
			got, _, _, err := decodeHeartbeats(payload, hbResp, nil)
			if err != nil {
				t.Fatal(err)
			}
			requireSameMsgs(t, got, []Msg{wireEquivalent(m, 8, 9)})
			if hbResp {
				coalesced[1]++
			} else {
				coalesced[0]++
			}
		}
	}
	if coalesced[0] == 0 || coalesced[1] == 0 {
		t.Fatalf("coalesced %v heartbeats/responses: generator never produced one", coalesced)
	}
}

// TestCoalescibleHeartbeatPredicates pins down which single extra field
// keeps a heartbeat out of a tuple.
func TestCoalescibleHeartbeatPredicates(t *testing.T) {
	base := func(typ consensus.MessageType) Msg {
		m := Msg{Group: 1}
		m.Type, m.From, m.To, m.Term, m.Round = typ, 2, 3, 4, 5
		return m
	}
	extras := map[string]func(*Msg){
		"LogTerm":    func(m *Msg) { m.LogTerm = 1 },
		"Index":      func(m *Msg) { m.Index = 1 },
		"RejectHint": func(m *Msg) { m.RejectHint = 1 },
		"Context":    func(m *Msg) { m.Context = 1 },
		"Reject":     func(m *Msg) { m.Reject = true },
		"Force":      func(m *Msg) { m.Force = true },
		"Entries":    func(m *Msg) { m.Entries = []consensus.Entry{{Index: 1}} },
		"Snapshot":   func(m *Msg) { m.Snapshot = &consensus.SnapshotMeta{} },
	}
	hb, resp := base(consensus.MsgHeartbeat), base(consensus.MsgHeartbeatResp)
	hb.Commit = 9
	if !isCoalescibleHeartbeat(&hb) || isCoalescibleHeartbeatResp(&hb) {
		t.Fatal("plain heartbeat misclassified")
	}
	if !isCoalescibleHeartbeatResp(&resp) || isCoalescibleHeartbeat(&resp) {
		t.Fatal("plain heartbeat response misclassified")
	}
	resp.Commit = 1
	if isCoalescibleHeartbeatResp(&resp) {
		t.Fatal("heartbeat response with Commit is coalescible: the tuple would lose it")
	}
	for name, set := range extras {
		hb, resp := base(consensus.MsgHeartbeat), base(consensus.MsgHeartbeatResp)
		set(&hb)
		set(&resp)
		if isCoalescibleHeartbeat(&hb) || isCoalescibleHeartbeatResp(&resp) {
			t.Errorf("a heartbeat with %s is coalescible: the tuple would lose it", name)
		}
	}
}

// TestDecodeHeartbeatsRejectsMalformed: cut or overlong tuples fail with
// ErrMalformed, for both tuple kinds.
func TestDecodeHeartbeatsRejectsMalformed(t *testing.T) {
	u := uvarintBytes
	hdr := concatBytes(u(1), u(2))
	overlong := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}
	for _, c := range []struct {
		name    string
		resp    bool
		payload []byte
	}{
		{"empty", false, nil},
		{"empty resp", true, nil},
		{"missing receiver", false, u(1)},
		{"truncated sender", true, []byte{0x80}},
		{"group only", false, concatBytes(hdr, u(5))},
		{"group and term", false, concatBytes(hdr, u(5), u(6))},
		{"no round", false, concatBytes(hdr, u(5), u(6), u(7))},
		{"resp: no round", true, concatBytes(hdr, u(5), u(6))},
		{"truncated round", false, concatBytes(hdr, u(5), u(6), u(7), []byte{0x80})},
		{"overflowing term", true, concatBytes(hdr, u(5), overlong, u(7))},
		{"good tuple then a partial one", false, concatBytes(hdr, u(5), u(6), u(7), u(8), u(9))},
		{"heartbeat tuple read as a response", true, concatBytes(hdr, u(5), u(6), u(7), u(8))},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := decodeHeartbeats(c.payload, c.resp, nil)
			requireErrorIs(t, err, ErrMalformed)
		})
	}
}

// ---------------------------------------------------------------------------
// Hello and reject.
// ---------------------------------------------------------------------------

func TestHelloRoundTrip(t *testing.T) {
	r := newWireRand(t)
	for i := 0; i < 2000; i++ {
		h := hello{
			version: randWireValue(r),
			cluster: randWireValue(r),
			from:    max(1, randWireValue(r)),
			to:      max(1, randWireValue(r)),
			kind:    []connKind{connRaft, connSnapshot, connCall}[r.IntN(3)],
		}
		if i == 0 {
			h.version = ProtocolVersion
		}
		b := appendHello([]byte("prefix"), h)
		got, err := decodeHello(b[len("prefix"):])
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		if got != h {
			t.Fatalf("decoded %+v, want %+v", got, h)
		}
		if again := appendHello(nil, got); !bytes.Equal(again, b[len("prefix"):]) {
			t.Fatalf("re-encoding %+v differs", h)
		}
	}
}

func TestDecodeHelloRejectsMalformed(t *testing.T) {
	u := uvarintBytes
	valid := appendHello(nil, hello{version: ProtocolVersion, cluster: 7, from: 1, to: 2, kind: connRaft})
	withKind := func(k byte) []byte {
		b := bytes.Clone(valid)
		b[len(b)-1] = k
		return b
	}
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"truncated version", []byte{0x80}},
		{"only version and cluster", concatBytes(u(1), u(7))},
		{"missing kind", valid[:len(valid)-1]},
		{"kind 0", withKind(0)},
		{"kind 4", withKind(4)},
		{"kind 255", withKind(255)},
		{"sender 0", appendHello(nil, hello{version: 1, cluster: 7, from: 0, to: 2, kind: connRaft})},
		{"receiver 0", appendHello(nil, hello{version: 1, cluster: 7, from: 1, to: 0, kind: connSnapshot})},
		{"trailing byte", concatBytes(valid, []byte{0})},
		{"overflowing cluster", concatBytes(u(1), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, u(1), u(2), []byte{1})},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeHello(c.payload)
			requireErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestHelloCheck: each reason an acceptor refuses a hello has its sentinel.
func TestHelloCheck(t *testing.T) {
	ok := hello{version: ProtocolVersion, cluster: 7, from: 1, to: 2, kind: connRaft}
	if err := ok.check(7, 2); err != nil {
		t.Fatalf("valid hello refused: %v", err)
	}
	for _, c := range []struct {
		name string
		mod  func(*hello)
		want error
	}{
		{"version", func(h *hello) { h.version = ProtocolVersion + 1 }, ErrVersionMismatch},
		{"cluster", func(h *hello) { h.cluster = 8 }, ErrClusterMismatch},
		{"wrong node", func(h *hello) { h.to = 3 }, ErrWrongNode},
		{"dialed itself", func(h *hello) { h.from = 2 }, ErrWrongNode},
	} {
		h := ok
		c.mod(&h)
		err := h.check(7, 2)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRejectRoundTrip(t *testing.T) {
	long := "x" + strings.Repeat("é", rejectReasonMax) // 2 bytes a rune: the cut falls mid-rune
	for _, kind := range ErrorKinds() {
		for _, reason := range []string{"", "x", "cluster 7 != 8", "quote \" and \n newline", long} {
			b := appendReject(nil, kind, reason)
			err := decodeReject(b)
			if !errors.Is(err, ErrRejected) || KindOf(err) != KindRejected {
				t.Fatalf("kind %v reason %q: got %v, want ErrRejected", kind, reason, err)
			}
			want := reason
			if len(want) > rejectReasonMax {
				want = want[:rejectReasonMax]
			}
			if !strings.Contains(err.Error(), "("+kind.String()+")") || !strings.Contains(err.Error(), strconv.Quote(want)) {
				t.Fatalf("kind %v reason %q: error %q does not carry both", kind, reason, err)
			}
			if len(b) > 1+binary.MaxVarintLen64+rejectReasonMax {
				t.Fatalf("reject payload of %d bytes", len(b))
			}
		}
	}
}

func TestDecodeRejectRejectsMalformed(t *testing.T) {
	u := uvarintBytes
	for _, c := range []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"missing reason length", []byte{byte(KindClusterMismatch)}},
		{"truncated reason length", []byte{byte(KindClusterMismatch), 0x80}},
		{"reason beyond payload", concatBytes([]byte{1}, u(5), []byte("abc"))},
		{"reason length 2^62", concatBytes([]byte{1}, u(1<<62), []byte("abc"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := decodeReject(c.payload)
			requireErrorIs(t, err, ErrMalformed)
			if errors.Is(err, ErrRejected) {
				t.Fatalf("malformed reject also wraps ErrRejected: %v", err)
			}
		})
	}
}

// TestDecodeRejectRefusesTrailingBytes: every other decoder is strict
// (decodeHello refuses trailing bytes, decodeMessages a present zero
// field), but decodeReject ignores whatever follows the reason.
func TestDecodeRejectRefusesTrailingBytes(t *testing.T) {
	b := appendReject(nil, KindClusterMismatch, "no")
	err := decodeReject(append(b, 0xde, 0xad))
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("reject payload with 2 trailing bytes decoded as %v, want ErrMalformed", err)
	}
}
