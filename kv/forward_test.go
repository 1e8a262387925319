package kv

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/raftpipe/raftpipe"
)

func TestForwardRequestRoundTrip(t *testing.T) {
	for _, r := range []forwardRequest{
		{kind: forwardWrite, group: 1, items: [][]byte{EncodePut(nil, []byte("k"), []byte("v")), {}}},
		{kind: forwardRead, group: 1 << 40, mode: raftpipe.ReadIndexOnly, items: [][]byte{EncodeGet(nil, []byte("k"))}},
		{kind: forwardWrite, group: 7},
	} {
		got, err := decodeForwardRequest(encodeForwardRequest(nil, r))
		if err != nil {
			t.Fatal(err)
		}
		if got.kind != r.kind || got.group != r.group || got.mode != r.mode || len(got.items) != len(r.items) {
			t.Fatalf("decoded %+v, want %+v", got, r)
		}
		for i := range r.items {
			if !bytes.Equal(got.items[i], r.items[i]) {
				t.Fatalf("item %d: %q, want %q", i, got.items[i], r.items[i])
			}
		}
	}
}

// Outcomes come back whole, per-command errors included; a failure of the
// whole request matches the framework error of its kind, so the follower
// answers as the leader would have.
func TestForwardResponseRoundTrip(t *testing.T) {
	outs := []raftpipe.Outcome{{Result: []byte{StatusOK}}, {Err: errors.New("bad command")}, {Result: nil}, {Err: raftpipe.ErrProposalDropped}}
	got, err := decodeForwardResponse(encodeForwardResponse(nil, outs, nil))
	if err != nil || len(got) != 4 || !bytes.Equal(got[0].Result, outs[0].Result) || got[1].Err == nil || !strings.Contains(got[1].Err.Error(), "bad command") || got[2].Err != nil {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	if !errors.Is(got[3].Err, raftpipe.ErrProposalDropped) || errors.Is(got[1].Err, raftpipe.ErrProposalDropped) {
		t.Fatalf("a command's error lost its kind on the way: %v, %v", got[3].Err, got[1].Err)
	}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&raftpipe.NotLeaderError{Group: 1, Leader: 3}, raftpipe.ErrNotLeader},
		{fmt.Errorf("wrapped: %w", raftpipe.ErrBusy), raftpipe.ErrBusy},
		{raftpipe.ErrTimeout, raftpipe.ErrTimeout},
		{raftpipe.ErrProposalDropped, raftpipe.ErrProposalDropped},
	} {
		_, err := decodeForwardResponse(encodeForwardResponse(nil, nil, tc.err))
		if !errors.Is(err, tc.want) {
			t.Errorf("%v came back as %v", tc.err, err)
		}
	}
	_, err = decodeForwardResponse(encodeForwardResponse(nil, nil, errors.New("disk on fire")))
	if err == nil || errors.Is(err, raftpipe.ErrBusy) || !bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
		t.Fatalf("an other error came back as %v", err)
	}
}

func TestForwardRejectsMalformed(t *testing.T) {
	good := encodeForwardRequest(nil, forwardRequest{kind: forwardWrite, group: 1, items: [][]byte{[]byte("abc")}})
	for name, b := range map[string][]byte{
		"empty":         {},
		"version":       append([]byte{9}, good[1:]...),
		"kind":          append([]byte{forwardVersion, 5}, good[2:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte(nil), good...), 0),
		"forged count":  {forwardVersion, byte(forwardWrite), 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"item too long": {forwardVersion, byte(forwardWrite), 1, 0, 1, 50, 'a'},
	} {
		if _, err := decodeForwardRequest(b); !errors.Is(err, ErrBadForward) {
			t.Errorf("%s: %v, want ErrBadForward", name, err)
		}
	}
	resp := encodeForwardResponse(nil, []raftpipe.Outcome{{Result: []byte("x")}}, nil)
	for name, b := range map[string][]byte{
		"empty":     {},
		"truncated": resp[:len(resp)-1],
		"trailing":  append(append([]byte(nil), resp...), 1),
		"status":    {forwardVersion, byte(codeOK), 1, 77, 0},
		"code":      {forwardVersion, 99, 0, 0},
	} {
		if _, err := decodeForwardResponse(b); !errors.Is(err, ErrBadForward) {
			t.Errorf("response %s: %v, want ErrBadForward", name, err)
		}
	}
}

// Arbitrary bytes never panic either decoder, and a request that decodes
// survives a round trip unchanged.
func FuzzForward(f *testing.F) {
	f.Add(encodeForwardRequest(nil, forwardRequest{kind: forwardWrite, group: 1, items: [][]byte{[]byte("abc"), nil}}))
	f.Add(encodeForwardResponse(nil, []raftpipe.Outcome{{Result: []byte("x")}, {Err: errors.New("e")}}, nil))
	f.Add(encodeForwardResponse(nil, nil, &raftpipe.NotLeaderError{Group: 1, Leader: 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeForwardRequest(b); err == nil {
			again, err := decodeForwardRequest(encodeForwardRequest(nil, r))
			if err != nil || again.kind != r.kind || again.group != r.group || again.mode != r.mode || len(again.items) != len(r.items) {
				t.Fatalf("request %+v came back as %+v, %v", r, again, err)
			}
			for i := range r.items {
				if !bytes.Equal(again.items[i], r.items[i]) {
					t.Fatalf("item %d: %q came back as %q", i, r.items[i], again.items[i])
				}
			}
		}
		decodeForwardResponse(b)
	})
}
