package consensus

import (
	"errors"
	"slices"
	"testing"
)

// FuzzDecodeMembershipEntry: decoding arbitrary bytes never panics and fails
// only with ErrCorruptMembershipChange; whatever decodes is a valid entry
// that round-trips through Encode.
func FuzzDecodeMembershipEntry(f *testing.F) {
	seed := MembershipEntry{
		Change: MembershipChange{Type: AddLearner, Node: 4},
		Result: Membership{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}},
	}
	f.Add(seed.Encode(nil))
	f.Add([]byte{})
	f.Add([]byte{1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0})
	f.Add([]byte{1, 2, 1, 0xff, 0xff, 0xff, 0x0f, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeMembershipEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptMembershipChange) {
				t.Fatalf("Decode(%v): %v, not ErrCorruptMembershipChange", b, err)
			}
			return
		}
		if e.Change.Node == 0 || e.Change.Type < AddLearner || e.Change.Type > RemoveNode || e.Result.validate() != nil {
			t.Fatalf("Decode(%v) = %+v, an invalid entry", b, e)
		}
		again, err := DecodeMembershipEntry(e.Encode(nil))
		if err != nil || again.Change != e.Change ||
			!slices.Equal(again.Result.Voters, e.Result.Voters) || !slices.Equal(again.Result.Learners, e.Result.Learners) {
			t.Fatalf("re-encoding %+v decodes to %+v, %v", e, again, err)
		}
	})
}
