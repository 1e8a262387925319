package kv

import "encoding/binary"

// Key layout. Every key of group g starts with groupPrefix(g) = 'g' and g
// in 8 big-endian bytes, so a group's state is one contiguous span that a
// snapshot can copy and an ingest can replace in one step:
//
//	'g' | group | 0x00            the applied index (8 bytes, big-endian)
//	'g' | group | 0x01 | user key the user key's value
const (
	groupTag   = 'g'
	appliedTag = 0x00
	dataTag    = 0x01
	prefixLen  = 1 + 8
)

func groupPrefix(dst []byte, group uint64) []byte {
	dst = append(dst, groupTag)
	return binary.BigEndian.AppendUint64(dst, group)
}

// groupSpan returns the bounds of every key of group: [lo, hi).
func groupSpan(group uint64) (lo, hi []byte) {
	lo = groupPrefix(nil, group)
	if group == ^uint64(0) {
		return lo, []byte{groupTag + 1}
	}
	return lo, groupPrefix(nil, group+1)
}

func appliedKey(group uint64) []byte { return append(groupPrefix(nil, group), appliedTag) }

// dataKey appends the storage key of user key k of group to dst.
func dataKey(dst []byte, group uint64, k []byte) []byte {
	dst = append(groupPrefix(dst, group), dataTag)
	return append(dst, k...)
}

// dataSpan returns the storage bounds of user keys [start, end) of group;
// an empty end means the end of the group's keys.
func dataSpan(group uint64, start, end []byte) (lo, hi []byte) {
	lo = dataKey(nil, group, start)
	if len(end) == 0 {
		hi = append(groupPrefix(nil, group), dataTag+1)
	} else {
		hi = dataKey(nil, group, end)
	}
	return lo, hi
}

// userKey strips the storage prefix of a data key.
func userKey(storage []byte) []byte { return storage[prefixLen+1:] }
