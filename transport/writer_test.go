package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/raftpipe/raftpipe/consensus"
)

// newTestWriter returns an initialised writer.
func newTestWriter(from, to uint64, maxFrame int, checksum bool) *writer {
	w := &writer{}
	w.init(from, to, maxFrame, checksum)
	return w
}

// writtenFrame is one frame read back from a writer's output.
type writtenFrame struct {
	t       frameType
	payload int // bytes
	checked bool
}

// writerOutput is a writer's output read back and decoded.
type writerOutput struct {
	frames     []writtenFrame
	msgs       []Msg // from messages frames, in order
	heartbeats []Msg // from heartbeats frames
	resps      []Msg // from heartbeat responses frames
	pings      int
}

func (o *writerOutput) count(t frameType) int {
	n := 0
	for _, f := range o.frames {
		if f.t == t {
			n++
		}
	}
	return n
}

// flushWriter calls buffers, concatenates what it returns as writev
// would, and decodes it: every frame must pass readFrame with lim, carry
// from and to, and decode by its type.
func flushWriter(t testing.TB, w *writer, lim frameLimits) writerOutput {
	t.Helper()
	var stream []byte
	for _, b := range w.buffers() {
		stream = append(stream, b...)
	}
	return decodeWriterStream(t, stream, lim, w.from, w.to)
}

func decodeWriterStream(t testing.TB, stream []byte, lim frameLimits, from, to uint64) writerOutput {
	t.Helper()
	var out writerOutput
	r := bytes.NewReader(stream)
	var hdr [frameHeaderBytes]byte
	for {
		ft, payload, err := readFrame(r, &hdr, lim, nil)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("frame %d of the writer's output: %v", len(out.frames), err)
		}
		out.frames = append(out.frames, writtenFrame{ft, len(payload), hdr[4]&flagNoChecksum == 0})
		var f, to2 uint64
		switch ft {
		case frameMessages:
			out.msgs, f, to2, err = decodeMessages(payload, out.msgs)
		case frameHeartbeats:
			out.heartbeats, f, to2, err = decodeHeartbeats(payload, false, out.heartbeats)
		case frameHeartbeatResps:
			out.resps, f, to2, err = decodeHeartbeats(payload, true, out.resps)
		case framePing:
			if len(payload) != 0 {
				t.Fatalf("ping frame with %d bytes of payload", len(payload))
			}
			out.pings++
			continue
		default:
			t.Fatalf("writer wrote a %v frame", ft)
		}
		if err != nil {
			t.Fatalf("decoding %v frame %d: %v", ft, len(out.frames)-1, err)
		}
		if f != from || to2 != to {
			t.Fatalf("%v frame from %d to %d, want %d to %d", ft, f, to2, from, to)
		}
	}
}

// encodedAloneBytes is the payload a messages frame holding only m takes.
func encodedAloneBytes(t testing.TB, from, to uint64, m *Msg) int {
	t.Helper()
	b, err := appendMessage(appendMessagesHeader(nil, from, to), m)
	if err != nil {
		t.Fatalf("appendMessage: %v", err)
	}
	return len(b)
}

// appWithPayloadBytes returns a MsgApp whose frame, alone, has a payload of
// exactly n bytes.
func appWithPayloadBytes(t testing.TB, from, to, group uint64, n int) Msg {
	t.Helper()
	m := Msg{Group: group}
	m.Type, m.Term, m.Index = consensus.MsgApp, 3, 10
	m.Entries = []consensus.Entry{{Index: 11, Term: 3}}
	base := encodedAloneBytes(t, from, to, &m) // with no data
	for d := n - base + 1; d >= 0 && d >= n-base-3; d-- {
		m.Entries[0].Data = testPayload(d)
		if encodedAloneBytes(t, from, to, &m) == n {
			return m
		}
	}
	t.Fatalf("no MsgApp encodes to %d bytes", n)
	return m
}

// requireOrderedFrames fails unless messages frames come first, then at
// most one heartbeats frame, one responses frame and one ping, in that
// order: buffers' promise that a heartbeat never overtakes an append.
func requireOrderedFrames(t testing.TB, out writerOutput) {
	t.Helper()
	rank := map[frameType]int{frameMessages: 0, frameHeartbeats: 1, frameHeartbeatResps: 2, framePing: 3}
	last := -1
	for i, f := range out.frames {
		r := rank[f.t]
		if r < last || (r == last && r > 0) {
			t.Fatalf("frame %d is a %v after a frame of rank %d: %v", i, f.t, last, out.frames)
		}
		last = r
	}
}

// writerTestCase is a message for the writer and what add must return.
type writerTestCase struct {
	m    Msg
	want error
}

// randWriterMsg returns a random mix: coalescible heartbeats and
// responses, ordinary messages of every type, messages too large for
// maxFrame (some exactly at the limit), and messages the codec cannot
// carry.
func randWriterMsg(t testing.TB, r *rand.Rand, types []consensus.MessageType, from, to uint64, maxFrame int) writerTestCase {
	switch k := r.IntN(20); {
	case k < 6:
		return writerTestCase{m: randHeartbeat(r, false)}
	case k < 9:
		return writerTestCase{m: randHeartbeat(r, true)}
	case k == 9: // entries with a gap
		m := randWireMsg(r, consensus.MsgApp)
		m.Entries = []consensus.Entry{{Index: 5}, {Index: 5 + 2 + r.Uint64N(5)}}
		return writerTestCase{m: m, want: ErrMalformed}
	case k == 10: // not a message type
		m := randWireMsg(r, consensus.MsgApp)
		m.Type = []consensus.MessageType{0, consensus.MsgTimeoutNow + 1, 200}[r.IntN(3)]
		return writerTestCase{m: m, want: ErrMalformed}
	case k == 11: // around the frame limit
		n := maxFrame - 2 + r.IntN(5)
		m := appWithPayloadBytes(t, from, to, randWireValue(r), n)
		if n > maxFrame {
			return writerTestCase{m: m, want: ErrFrameTooLarge}
		}
		return writerTestCase{m: m}
	default:
		m := randWireMsg(r, types[r.IntN(len(types))])
		if r.IntN(10) == 0 && len(m.Entries) > 0 { // now and then a large one
			m.Entries[0].Data = testPayload(r.IntN(maxFrame / 2))
		}
		if encodedAloneBytes(t, from, to, &m) > maxFrame {
			return writerTestCase{m: m, want: ErrFrameTooLarge}
		}
		return writerTestCase{m: m}
	}
}

// TestWriterRoundTripRandom adds random mixes of messages to a writer,
// flushes as the peer does (buffers, then reset), and reads the bytes back.
// Ordinary messages arrive in order, every heartbeat arrives, there is at
// most one frame of each tuple kind per flush, no frame exceeds maxFrame,
// refused messages leave no trace, and the writer's counters match.
func TestWriterRoundTripRandom(t *testing.T) {
	r := newWireRand(t)
	types := allMessageTypes(t)
	var added, refused, flushes, msgFrames int
	for iter := 0; iter < 25; iter++ {
		from, to := 1+randWireValue(r)%(1<<40), 1+randWireValue(r)%(1<<40)
		maxFrame := 2048 + r.IntN(30<<10)
		checksum := r.IntN(2) == 0
		w := newTestWriter(from, to, maxFrame, checksum)
		lim := frameLimits{maxBytes: maxFrame, allowNoCheck: !checksum}
		for round := 0; round < 5; round++ {
			var wantMsgs, wantHB, wantResp []Msg
			tupleBytes := [2]int{} // keep each tuple frame within maxFrame: see TestWriterHeartbeatFramesRespectMaxFrame
			for i, n := 0, r.IntN(150); i < n; i++ {
				c := randWriterMsg(t, r, types, from, to, maxFrame)
				hb, resp := isCoalescibleHeartbeat(&c.m), isCoalescibleHeartbeatResp(&c.m)
				if hb || resp {
					kind := 0
					if resp {
						kind = 1
					}
					size := len(appendHeartbeatTuple(nil, &c.m, resp))
					// Room for from, to and a spare largest tuple, so a
					// writer that cuts tuple frames at maxFrame still
					// needs only one.
					if tupleBytes[kind]+size > maxFrame-6*binary.MaxVarintLen64 {
						continue
					}
					tupleBytes[kind] += size
				}
				err := w.add(&c.m)
				switch {
				case c.want != nil:
					if !errors.Is(err, c.want) {
						t.Fatalf("add(%s) = %v, want %v (maxFrame %d, alone %d bytes)", dumpMsg(c.m), err, c.want, maxFrame, encodedAloneBytes(t, from, to, &c.m))
					}
					refused++
					continue
				case err != nil:
					t.Fatalf("add(%s) = %v (maxFrame %d)", dumpMsg(c.m), err, maxFrame)
				}
				added++
				e := wireEquivalent(c.m, from, to)
				switch {
				case hb:
					wantHB = append(wantHB, e)
				case resp:
					wantResp = append(wantResp, e)
				default:
					wantMsgs = append(wantMsgs, e)
				}
			}
			ping := r.IntN(4) == 0
			if ping {
				w.ping = true
			}
			if w.empty() != (len(wantMsgs)+len(wantHB)+len(wantResp) == 0 && !ping) {
				t.Fatalf("empty() = %t with %d messages, %d heartbeats, ping %t", w.empty(), len(wantMsgs), len(wantHB)+len(wantResp), ping)
			}
			msgs, heartbeats := w.msgs, w.heartbeats
			out := flushWriter(t, w, lim)
			flushes++
			msgFrames += out.count(frameMessages)

			requireSameMsgs(t, out.msgs, wantMsgs)
			requireSameMsgs(t, out.heartbeats, wantHB)
			requireSameMsgs(t, out.resps, wantResp)
			requireOrderedFrames(t, out)
			if hbf, rf := out.count(frameHeartbeats), out.count(frameHeartbeatResps); hbf > 1 || rf > 1 ||
				(hbf == 1) != (len(wantHB) > 0) || (rf == 1) != (len(wantResp) > 0) {
				t.Fatalf("%d heartbeat and %d response frames for %d and %d tuples", hbf, rf, len(wantHB), len(wantResp))
			}
			if (out.pings == 1) != ping || out.pings > 1 {
				t.Fatalf("%d ping frames, ping %t", out.pings, ping)
			}
			for i, f := range out.frames {
				if f.payload > maxFrame {
					t.Fatalf("frame %d (%v) has %d bytes, maxFrame %d", i, f.t, f.payload, maxFrame)
				}
				if f.checked != checksum {
					t.Fatalf("frame %d checked %t, writer checksum %t", i, f.checked, checksum)
				}
			}
			if msgs != len(wantMsgs) || heartbeats != len(wantHB)+len(wantResp) {
				t.Fatalf("writer counted %d messages and %d heartbeats, want %d and %d", msgs, heartbeats, len(wantMsgs), len(wantHB)+len(wantResp))
			}
			if w.frames != len(out.frames) || w.hbFrames != out.count(frameHeartbeats)+out.count(frameHeartbeatResps) {
				t.Fatalf("writer counted %d frames (%d heartbeat), output has %v", w.frames, w.hbFrames, out.frames)
			}
			w.reset()
			if !w.empty() || w.pendingBytes() != 0 || len(w.buffers()) != 0 {
				t.Fatal("writer not empty after reset")
			}
			w.reset()
		}
	}
	t.Logf("%d messages added, %d refused, %d flushes, %d messages frames", added, refused, flushes, msgFrames)
}

// TestWriterHeartbeatsCoalesce: however many heartbeats a drain holds, they
// leave in one heartbeats frame and one responses frame, after the
// messages queued with them.
func TestWriterHeartbeatsCoalesce(t *testing.T) {
	for _, n := range []int{1, 2, 100, 10000} {
		w := newTestWriter(1, 2, MaxFrameBytesLimit, true)
		var wantMsgs, wantHB, wantResp []Msg
		for g := 0; g < n; g++ {
			hb := Msg{Group: uint64(g)}
			hb.Type, hb.Term, hb.Commit, hb.Round = consensus.MsgHeartbeat, 5, uint64(1000+g), 77
			resp := Msg{Group: uint64(g)}
			resp.Type, resp.Term, resp.Round = consensus.MsgHeartbeatResp, 5, 76
			app := Msg{Group: uint64(g)}
			app.Type, app.Term, app.Index, app.Commit = consensus.MsgApp, 5, uint64(g), 3
			for _, m := range []*Msg{&hb, &app, &resp} {
				if err := w.add(m); err != nil {
					t.Fatal(err)
				}
			}
			wantHB = append(wantHB, wireEquivalent(hb, 1, 2))
			wantResp = append(wantResp, wireEquivalent(resp, 1, 2))
			wantMsgs = append(wantMsgs, wireEquivalent(app, 1, 2))
		}
		out := flushWriter(t, w, frameLimits{maxBytes: MaxFrameBytesLimit})
		requireSameMsgs(t, out.msgs, wantMsgs)
		requireSameMsgs(t, out.heartbeats, wantHB)
		requireSameMsgs(t, out.resps, wantResp)
		requireOrderedFrames(t, out)
		if hbFrames := out.count(frameHeartbeats) + out.count(frameHeartbeatResps); hbFrames != 2 || w.hbFrames != 2 {
			t.Fatalf("%d groups: %d heartbeat frames (writer counted %d), want 2", n, hbFrames, w.hbFrames)
		}
		if w.heartbeats != 2*n || w.msgs != n {
			t.Fatalf("%d groups: writer counted %d heartbeats and %d messages", n, w.heartbeats, w.msgs)
		}
	}
}

// TestWriterHeartbeatFramesRespectMaxFrame: with the smallest frame limit
// a config allows (64 KiB) and 15,000 groups, a tick's heartbeats take
// about 135 KB (their responses 90 KB): the writer cuts them into frames
// under the limit, which a receiver accepts.
func TestWriterHeartbeatFramesRespectMaxFrame(t *testing.T) {
	const maxFrame = 64 << 10
	for _, resp := range []bool{false, true} {
		w := newTestWriter(1, 2, maxFrame, true)
		var want []Msg
		for g := 1; g <= 15000; g++ {
			m := Msg{Group: uint64(g)}
			m.Type, m.Term, m.Commit, m.Round = consensus.MsgHeartbeat, 7, 1_000_000, 100_000
			if resp {
				m.Type, m.Commit = consensus.MsgHeartbeatResp, 0
			}
			if err := w.add(&m); err != nil {
				t.Fatal(err)
			}
			want = append(want, wireEquivalent(m, 1, 2))
		}
		var stream []byte
		for _, b := range w.buffers() {
			stream = append(stream, b...)
		}
		// Read with no limit to see what was written, then check the limit.
		out := decodeWriterStream(t, stream, frameLimits{maxBytes: MaxFrameBytesLimit}, 1, 2)
		got := out.heartbeats
		if resp {
			got = out.resps
		}
		requireSameMsgs(t, got, want)
		for i, f := range out.frames {
			if f.payload > maxFrame {
				t.Errorf("resp=%t: %v frame %d has a %d-byte payload, maxFrame %d: the receiver refuses it with ErrFrameTooLarge",
					resp, f.t, i, f.payload, maxFrame)
			}
		}
	}
}

// TestWriterCutsFramesNearTarget: messages frames are cut once they reach
// frameTargetBytes, well below a large maxFrame, and keep their order.
func TestWriterCutsFramesNearTarget(t *testing.T) {
	const maxFrame = 8 << 20
	w := newTestWriter(3, 4, maxFrame, true)
	var want []Msg
	largest := 0
	for i := 0; i < 300; i++ {
		m := appWithPayloadBytes(t, 3, 4, uint64(i), 10<<10+i)
		if err := w.add(&m); err != nil {
			t.Fatal(err)
		}
		want = append(want, wireEquivalent(m, 3, 4))
		largest = max(largest, encodedAloneBytes(t, 3, 4, &m))
	}
	out := flushWriter(t, w, frameLimits{maxBytes: maxFrame})
	requireSameMsgs(t, out.msgs, want)
	if len(out.frames) < 3 {
		t.Fatalf("%d frames for about 3 MB, want them cut near %d bytes", len(out.frames), frameTargetBytes)
	}
	for i, f := range out.frames {
		if frameHeaderBytes+f.payload >= frameTargetBytes+largest {
			t.Fatalf("frame %d has %d bytes, more than the target %d plus one message", i, f.payload, frameTargetBytes)
		}
		if i < len(out.frames)-1 && frameHeaderBytes+f.payload < frameTargetBytes {
			t.Fatalf("frame %d was cut at %d bytes, before the target %d", i, f.payload, frameTargetBytes)
		}
	}
}

// TestWriterFullFrameMovesMessageToNextFrame: a message that does not fit
// in what the open frame holds goes alone into the next frame.
func TestWriterFullFrameMovesMessageToNextFrame(t *testing.T) {
	const maxFrame = 1000
	w := newTestWriter(1, 2, maxFrame, true)
	var want []Msg
	for i := 0; i < 10; i++ {
		m := appWithPayloadBytes(t, 1, 2, uint64(i), 400)
		if err := w.add(&m); err != nil {
			t.Fatal(err)
		}
		want = append(want, wireEquivalent(m, 1, 2))
	}
	out := flushWriter(t, w, frameLimits{maxBytes: maxFrame})
	requireSameMsgs(t, out.msgs, want)
	if len(out.frames) != 5 || w.frames != 5 {
		t.Fatalf("%d frames (writer counted %d), want 5 of two messages each", len(out.frames), w.frames)
	}
}

// TestWriterRefusesMessageLargerThanMaxFrame: a message whose frame alone
// would exceed maxFrame is refused with ErrFrameTooLarge whether it would
// open a frame or join one, and the output stays decodable without it.
// One that fills a frame exactly is taken.
func TestWriterRefusesMessageLargerThanMaxFrame(t *testing.T) {
	const maxFrame = 4096
	for _, c := range []struct {
		name          string
		before, after int // small messages around the large one
	}{{"alone", 0, 0}, {"first", 0, 3}, {"in an open frame", 3, 0}, {"between", 2, 2}} {
		t.Run(c.name, func(t *testing.T) {
			w := newTestWriter(1, 2, maxFrame, true)
			var want []Msg
			small := func(g uint64) {
				m := Msg{Group: g}
				m.Type, m.Term, m.Index = consensus.MsgAppResp, 2, g
				if err := w.add(&m); err != nil {
					t.Fatal(err)
				}
				want = append(want, wireEquivalent(m, 1, 2))
			}
			for i := 0; i < c.before; i++ {
				small(uint64(100 + i))
			}
			big := appWithPayloadBytes(t, 1, 2, 9, maxFrame+1)
			err := w.add(&big)
			requireErrorIs(t, err, ErrFrameTooLarge)
			huge := appWithPayloadBytes(t, 1, 2, 9, 3*maxFrame)
			requireErrorIs(t, w.add(&huge), ErrFrameTooLarge)
			exact := appWithPayloadBytes(t, 1, 2, 10, maxFrame)
			if err := w.add(&exact); err != nil {
				t.Fatalf("a message filling a frame exactly: %v", err)
			}
			want = append(want, wireEquivalent(exact, 1, 2))
			for i := 0; i < c.after; i++ {
				small(uint64(200 + i))
			}
			out := flushWriter(t, w, frameLimits{maxBytes: maxFrame})
			requireSameMsgs(t, out.msgs, want)
			if w.msgs != len(want) {
				t.Fatalf("writer counted %d messages, want %d", w.msgs, len(want))
			}
		})
	}
}

// TestWriterRefusesMalformed: a message the codec cannot carry is refused
// with ErrMalformed and leaves nothing behind, first or mid-frame.
func TestWriterRefusesMalformed(t *testing.T) {
	gap := Msg{Group: 1}
	gap.Type = consensus.MsgApp
	gap.Entries = []consensus.Entry{{Index: 1}, {Index: 3}}
	noType := Msg{Group: 1} // what the ping marker looks like
	for _, bad := range []Msg{gap, noType} {
		for _, before := range []int{0, 2} {
			w := newTestWriter(1, 2, 4096, false)
			var want []Msg
			for i := 0; i < before; i++ {
				m := Msg{Group: uint64(i)}
				m.Type, m.Term = consensus.MsgVote, 9
				if err := w.add(&m); err != nil {
					t.Fatal(err)
				}
				want = append(want, wireEquivalent(m, 1, 2))
			}
			requireErrorIs(t, w.add(&bad), ErrMalformed)
			after := Msg{Group: 50}
			after.Type, after.Term = consensus.MsgVoteResp, 9
			if err := w.add(&after); err != nil {
				t.Fatal(err)
			}
			want = append(want, wireEquivalent(after, 1, 2))
			out := flushWriter(t, w, frameLimits{maxBytes: 4096, allowNoCheck: true})
			requireSameMsgs(t, out.msgs, want)
			if len(out.frames) != 1 {
				t.Fatalf("%d frames, want 1", len(out.frames))
			}
		}
	}
}

// TestWriterUncheckedFramesNeedTLS: a writer without checksums writes
// frames a plaintext reader refuses.
func TestWriterUncheckedFramesNeedTLS(t *testing.T) {
	w := newTestWriter(1, 2, 4096, false)
	m := Msg{Group: 1}
	m.Type, m.Term = consensus.MsgVote, 1
	if err := w.add(&m); err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for _, b := range w.buffers() {
		stream = append(stream, b...)
	}
	_, _, err := readOneFrame(stream, frameLimits{maxBytes: 4096})
	requireErrorIs(t, err, ErrChecksum)
}

// TestWriterPingAndEmpty: an empty writer writes nothing; a ping alone is
// one empty ping frame.
func TestWriterPingAndEmpty(t *testing.T) {
	w := newTestWriter(1, 2, 4096, true)
	if !w.empty() || len(w.buffers()) != 0 || w.frames != 0 {
		t.Fatal("a fresh writer has something to write")
	}
	w.reset()
	w.ping = true
	if w.empty() {
		t.Fatal("a writer with a ping is empty")
	}
	out := flushWriter(t, w, frameLimits{maxBytes: 4096})
	if out.pings != 1 || len(out.frames) != 1 || w.frames != 1 {
		t.Fatalf("ping alone: %v (writer counted %d frames)", out.frames, w.frames)
	}
	w.reset()
	if !w.empty() || len(w.buffers()) != 0 {
		t.Fatal("ping survived reset")
	}
}

// TestWriterResetGivesBackLargeBuffers: after a burst of large appends,
// reset lets go of buffers beyond its keep size.
func TestWriterResetGivesBackLargeBuffers(t *testing.T) {
	w := newTestWriter(1, 2, 4<<20, true)
	for i := 0; i < 3; i++ {
		m := Msg{Group: uint64(i)}
		m.Type = consensus.MsgApp
		m.Entries = []consensus.Entry{{Index: 1, Data: make([]byte, 3<<20)}}
		if err := w.add(&m); err != nil {
			t.Fatal(err)
		}
	}
	if cap(w.msgBuf) <= 8<<20 {
		t.Fatalf("buffer only grew to %d bytes: the test needs more", cap(w.msgBuf))
	}
	w.reset()
	if cap(w.msgBuf) > 8<<20 {
		t.Fatalf("reset kept a %d-byte buffer", cap(w.msgBuf))
	}
	m := Msg{Group: 1}
	m.Type = consensus.MsgTimeoutNow
	if err := w.add(&m); err != nil {
		t.Fatal(err)
	}
	out := flushWriter(t, w, frameLimits{maxBytes: 4 << 20})
	requireSameMsgs(t, out.msgs, []Msg{wireEquivalent(m, 1, 2)})
}
