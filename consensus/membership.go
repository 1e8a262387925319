package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Membership is who belongs to a group: voters elect and commit, learners
// only receive the log. Both lists are sorted and disjoint.
type Membership struct {
	Voters   []uint64
	Learners []uint64
}

func (m Membership) isVoter(id uint64) bool {
	_, ok := slices.BinarySearch(m.Voters, id)
	return ok
}

func (m Membership) isLearner(id uint64) bool {
	_, ok := slices.BinarySearch(m.Learners, id)
	return ok
}

func (m Membership) isMember(id uint64) bool { return m.isVoter(id) || m.isLearner(id) }

func (m Membership) clone() Membership {
	return Membership{Voters: slices.Clone(m.Voters), Learners: slices.Clone(m.Learners)}
}

func (m Membership) validate() error {
	check := func(name string, ids []uint64) error {
		for i, id := range ids {
			if id == 0 {
				return fmt.Errorf("%w: membership %s include node 0", ErrInvalidConfig, name)
			}
			if i > 0 && ids[i-1] >= id {
				return fmt.Errorf("%w: membership %s %v not sorted and unique", ErrInvalidConfig, name, ids)
			}
		}
		return nil
	}
	if err := check("voters", m.Voters); err != nil {
		return err
	}
	if err := check("learners", m.Learners); err != nil {
		return err
	}
	for _, id := range m.Learners {
		if m.isVoter(id) {
			return fmt.Errorf("%w: node %d is both voter and learner", ErrInvalidConfig, id)
		}
	}
	return nil
}

// ChangeType is one single-node membership change.
type ChangeType uint8

const (
	AddLearner ChangeType = iota + 1
	AddVoter
	PromoteLearner
	RemoveNode
)

func (t ChangeType) String() string {
	switch t {
	case AddLearner:
		return "add-learner"
	case AddVoter:
		return "add-voter"
	case PromoteLearner:
		return "promote"
	case RemoveNode:
		return "remove"
	}
	return fmt.Sprintf("ChangeType(%d)", uint8(t))
}

// MembershipChange adds, promotes or removes one node. Changing one voter
// at a time keeps every majority of the old voters overlapping every
// majority of the new ones, so no joint consensus is needed.
type MembershipChange struct {
	Type ChangeType
	Node uint64
}

// MembershipEntry is what an EntryMembership carries: the change, and the
// whole membership it results in. A node takes the result as it is, so a
// node that joined late, started from a snapshot, or started with an empty
// membership ends up with the same view as everyone else, without having
// to replay every change since the group began.
type MembershipEntry struct {
	Change MembershipChange
	Result Membership
}

// ErrCorruptMembershipChange reports an undecodable membership entry.
var ErrCorruptMembershipChange = errors.New("consensus: corrupt membership change")

// membershipEntryVersion leads the encoding so it can evolve.
const membershipEntryVersion = 1

// Encode appends the entry encoding of e to dst: a version byte, the
// change type, then as uvarints the node, the number of voters, the
// voters, the number of learners and the learners.
func (e MembershipEntry) Encode(dst []byte) []byte {
	dst = append(dst, membershipEntryVersion, byte(e.Change.Type))
	dst = binary.AppendUvarint(dst, e.Change.Node)
	for _, ids := range [][]uint64{e.Result.Voters, e.Result.Learners} {
		dst = binary.AppendUvarint(dst, uint64(len(ids)))
		for _, id := range ids {
			dst = binary.AppendUvarint(dst, id)
		}
	}
	return dst
}

// DecodeMembershipEntry decodes what Encode wrote; anything else is an
// error naming what was wrong. It never allocates more than b's length
// suggests.
func DecodeMembershipEntry(b []byte) (MembershipEntry, error) {
	bad := func(format string, args ...any) (MembershipEntry, error) {
		return MembershipEntry{}, fmt.Errorf("%w: %s", ErrCorruptMembershipChange, fmt.Sprintf(format, args...))
	}
	if len(b) < 2 {
		return bad("%d bytes, want at least 2", len(b))
	}
	if b[0] != membershipEntryVersion {
		return bad("version %d", b[0])
	}
	var e MembershipEntry
	e.Change.Type = ChangeType(b[1])
	if e.Change.Type < AddLearner || e.Change.Type > RemoveNode {
		return bad("change type %d", b[1])
	}
	b = b[2:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	var ok bool
	if e.Change.Node, ok = next(); !ok || e.Change.Node == 0 {
		return bad("bad node")
	}
	for _, ids := range []*[]uint64{&e.Result.Voters, &e.Result.Learners} {
		n, ok := next()
		if !ok || n > uint64(len(b)) { // each id takes at least one byte
			return bad("bad member count")
		}
		*ids = make([]uint64, n)
		for i := range *ids {
			if (*ids)[i], ok = next(); !ok {
				return bad("bad member id")
			}
		}
	}
	if len(b) != 0 {
		return bad("%d trailing bytes", len(b))
	}
	if err := e.Result.validate(); err != nil {
		return bad("%v", err)
	}
	return e, nil
}

// apply returns m changed by c, or why c does not fit m.
func (m Membership) apply(c MembershipChange) (Membership, error) {
	bad := func(why string) (Membership, error) {
		return m, fmt.Errorf("%w: %s %d: %s", ErrInvalidMembershipChange, c.Type, c.Node, why)
	}
	if c.Node == 0 {
		return bad("node 0")
	}
	out := m.clone()
	switch c.Type {
	case AddLearner:
		if m.isMember(c.Node) {
			return bad("already a member")
		}
		out.Learners = insertSorted(out.Learners, c.Node)
	case AddVoter:
		if m.isMember(c.Node) {
			return bad("already a member")
		}
		out.Voters = insertSorted(out.Voters, c.Node)
	case PromoteLearner:
		if !m.isLearner(c.Node) {
			return bad("not a learner")
		}
		out.Learners = removeSorted(out.Learners, c.Node)
		out.Voters = insertSorted(out.Voters, c.Node)
	case RemoveNode:
		switch {
		case m.isLearner(c.Node):
			out.Learners = removeSorted(out.Learners, c.Node)
		case m.isVoter(c.Node):
			if len(m.Voters) == 1 {
				return bad("the last voter")
			}
			out.Voters = removeSorted(out.Voters, c.Node)
		default:
			return bad("not a member")
		}
	default:
		return bad("unknown change type")
	}
	return out, nil
}

func insertSorted(ids []uint64, id uint64) []uint64 {
	i, _ := slices.BinarySearch(ids, id)
	return slices.Insert(ids, i, id)
}

func removeSorted(ids []uint64, id uint64) []uint64 {
	i, _ := slices.BinarySearch(ids, id)
	return slices.Delete(ids, i, i+1)
}
