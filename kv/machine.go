package kv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/raftpipe/raftpipe/fsm"
)

// Machine is the key/value state machine of one group, stored in its
// host's shared Store. Its commands and queries are those of command.go.
type Machine struct {
	s     *Store
	group uint64
	// applied is the last index committed to Pebble; Lookup sees exactly
	// the writes up to it.
	applied atomic.Uint64
	closed  atomic.Bool

	// The apply stage's: the last index written into the open batch.
	pendingApplied uint64
	inBatch        bool
	key            []byte // scratch for storage keys
}

var _ fsm.SharedStateMachine = (*Machine)(nil)

// Store is the shared store the apply stage commits.
func (m *Machine) Store() fsm.Committer { return m.s }

// Update writes entries into the store's open batch, in order; they take
// effect at the store's next Commit. Each command's result is set at once,
// from the state as of the entries before it, committed or not.
func (m *Machine) Update(entries []fsm.Entry) error {
	if m.closed.Load() {
		return ErrClosed
	}
	b := m.s.batch
	for i := range entries {
		e := &entries[i]
		if e.Index != m.pendingApplied+1 {
			return fmt.Errorf("%w: group %d: entry %d after %d", fsm.ErrOutOfOrder, m.group, e.Index, m.pendingApplied)
		}
		if e.Cmd != nil {
			res, err := m.apply(b, e.Cmd)
			if err != nil {
				return fmt.Errorf("kv: group %d entry %d: %w", m.group, e.Index, err)
			}
			e.Result = res
		}
		m.pendingApplied = e.Index
	}
	if !m.inBatch && len(entries) > 0 {
		m.inBatch = true
		m.s.pending = append(m.s.pending, m)
	}
	return nil
}

// apply writes one command into b and returns its result. An error is the
// store's, and fatal; a command that cannot be decoded is a result.
func (m *Machine) apply(b *pebble.Batch, cmd []byte) ([]byte, error) {
	c, err := decodeCommand(cmd, false)
	if err != nil {
		return append([]byte{StatusBadCommand}, err.Error()...), nil
	}
	if c.op != opBatch {
		return m.applyOne(b, c, nil)
	}
	res := []byte{StatusOK}
	for _, sub := range c.subs {
		r, err := m.applyOne(b, sub, nil)
		if err != nil {
			return nil, err
		}
		res = appendKey(res, r)
	}
	return res, nil
}

func (m *Machine) applyOne(b *pebble.Batch, c command, dst []byte) ([]byte, error) {
	m.key = dataKey(m.key[:0], m.group, c.key)
	switch c.op {
	case opPut:
		return append(dst, StatusOK), b.Set(m.key, c.value, nil)
	case opDelete:
		return m.applyDelete(b, c, dst)
	case opSet:
		return m.applySet(b, c, dst)
	case opIncrBy:
		return m.applyIncrBy(b, c, dst)
	case opCAS:
		cur, found, err := m.get(b, m.key)
		if err != nil {
			return nil, err
		}
		if found != c.hasExp || found && string(cur) != string(c.expect) {
			if !found {
				return append(dst, StatusCompareFailed, 0), nil
			}
			return append(append(dst, StatusCompareFailed, 1), cur...), nil
		}
		if c.del {
			return append(dst, StatusOK), b.Delete(m.key, nil)
		}
		return append(dst, StatusOK), b.Set(m.key, c.value, nil)
	}
	return nil, fmt.Errorf("kv: opcode %d reached apply", c.op) // decodeCommand allows no other
}

// get reads key through b: the open batch's writes over the committed
// state. The value is copied.
func (m *Machine) get(b *pebble.Batch, key []byte) ([]byte, bool, error) {
	v, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv: group %d: read: %w", m.group, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Lookup answers a query (query.go) from the committed state.
// A get of a missing key returns fsm.ErrNotFound.
func (m *Machine) Lookup(query []byte) ([]byte, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	if len(query) == 0 {
		return nil, fmt.Errorf("%w: empty query", ErrBadCommand)
	}
	switch query[0] {
	case queryGet:
		v, closer, err := m.s.db.Get(dataKey(nil, m.group, query[1:]))
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, fsm.ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("kv: group %d: get: %w", m.group, err)
		}
		defer closer.Close()
		return append([]byte(nil), v...), nil
	case queryScan:
		return m.scan(query[1:])
	case queryMGet:
		return m.mget(query[1:])
	case queryExists:
		return m.exists(query[1:])
	case queryStrlen:
		return m.strlen(query[1:])
	case queryDBSize:
		if len(query) != 1 {
			return nil, fmt.Errorf("%w: %d bytes after a dbsize", ErrBadCommand, len(query)-1)
		}
		return m.dbSize()
	case queryScanKeys:
		return m.scanKeys(query[1:])
	}
	return nil, fmt.Errorf("%w: unknown query %d", ErrBadCommand, query[0])
}

func (m *Machine) scan(q []byte) ([]byte, error) {
	start, rest, err := readBytes(q)
	if err != nil {
		return nil, fmt.Errorf("%w: scan start: %v", ErrBadCommand, err)
	}
	end, rest, err := readBytes(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: scan end: %v", ErrBadCommand, err)
	}
	limit, w := binary.Uvarint(rest)
	if w <= 0 || w != len(rest) {
		return nil, fmt.Errorf("%w: scan limit", ErrBadCommand)
	}
	lo, hi := dataSpan(m.group, start, end)
	it, err := m.s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("kv: group %d: scan: %w", m.group, err)
	}
	defer it.Close()
	var body []byte
	n, more := uint64(0), false
	for ok := it.First(); ok; ok = it.Next() {
		if n == limit {
			more = true
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("kv: group %d: scan: %w", m.group, err)
		}
		body = appendKey(appendKey(body, userKey(it.Key())), v)
		n++
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("kv: group %d: scan: %w", m.group, err)
	}
	res := []byte{0}
	if more {
		res[0] = 1
	}
	return append(binary.AppendUvarint(res, n), body...), nil
}

// Sync makes every committed entry durable (Store.Flush).
func (m *Machine) Sync() error { return m.s.Flush() }

var _ fsm.Syncer = (*Machine)(nil)

// Applied is the last index committed to Pebble.
func (m *Machine) Applied() uint64 { return m.applied.Load() }

// Close detaches the machine from its store; its state stays in Pebble.
func (m *Machine) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.machines[m.group] == m {
		delete(m.s.machines, m.group)
	}
	return nil
}
