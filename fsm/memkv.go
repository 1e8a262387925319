package fsm

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// MemKV is an in-memory key/value state machine. Its commands are put and
// delete (EncodePut, EncodeDelete); a query is a key, answered with its
// value. Every command's result starts with a status byte.
type MemKV struct {
	mu      sync.RWMutex
	data    map[string][]byte
	applied uint64
	closed  bool
}

// Command opcodes and result statuses of MemKV.
const (
	opPut    = 1
	opDelete = 2

	// StatusOK: the command was applied. A delete's result has a second
	// byte, 1 if the key existed.
	StatusOK = 0
	// StatusBadCommand: the command could not be decoded; the state is
	// unchanged. The rest of the result says why.
	StatusBadCommand = 1
)

// NewMemKV returns an empty machine.
func NewMemKV() *MemKV { return &MemKV{data: map[string][]byte{}} }

// EncodePut appends a command that sets key to value.
func EncodePut(dst, key, value []byte) []byte {
	dst = append(dst, opPut)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return append(dst, value...)
}

// EncodeDelete appends a command that removes key.
func EncodeDelete(dst, key []byte) []byte {
	dst = append(dst, opDelete)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// Update applies entries in order under one write lock.
func (m *MemKV) Update(entries []Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for i := range entries {
		e := &entries[i]
		if e.Index != m.applied+1 {
			return fmt.Errorf("%w: entry %d after %d", ErrOutOfOrder, e.Index, m.applied)
		}
		if e.Cmd != nil {
			e.Result = m.apply(e.Cmd)
		}
		m.applied = e.Index
	}
	return nil
}

func (m *MemKV) apply(cmd []byte) []byte {
	if len(cmd) == 0 {
		return badCommand("empty command")
	}
	n, w := binary.Uvarint(cmd[1:])
	if w <= 0 || n > uint64(len(cmd)-1-w) {
		return badCommand("bad key length")
	}
	key := string(cmd[1+w : 1+w+int(n)])
	rest := cmd[1+w+int(n):]
	switch cmd[0] {
	case opPut:
		m.data[key] = append([]byte(nil), rest...) // cmd's buffer is the host's
		return []byte{StatusOK}
	case opDelete:
		if len(rest) != 0 {
			return badCommand("trailing bytes after a delete's key")
		}
		_, existed := m.data[key]
		delete(m.data, key)
		if existed {
			return []byte{StatusOK, 1}
		}
		return []byte{StatusOK, 0}
	}
	return badCommand(fmt.Sprintf("unknown opcode %d", cmd[0]))
}

func badCommand(why string) []byte { return append([]byte{StatusBadCommand}, why...) }

// Lookup returns a copy of key's value, or ErrNotFound.
func (m *MemKV) Lookup(key []byte) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	v, ok := m.data[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// Applied is the index of the last entry applied.
func (m *MemKV) Applied() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.applied
}

// Len is the number of keys.
func (m *MemKV) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.data)
}

// Close drops the state; later calls return ErrClosed.
func (m *MemKV) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed, m.data = true, nil
	return nil
}
