package vfs

import (
	"strings"
	"sync/atomic"
)

// SetInjector makes every later MemFS and File operation (but File.Size,
// which has no Op) first call inject with its Op and cleaned path (a
// File's path at open; Rename's old name). If inject returns an error the
// operation fails with it, wrapped in a *fs.PathError, and does nothing.
// inject may be called concurrently. A nil inject removes the injector.
func (m *MemFS) SetInjector(inject func(op Op, name string) error) {
	if inject == nil {
		m.inject.Store(nil)
		return
	}
	m.inject.Store(&inject)
}

// SetCapacity bounds the sum of the current sizes of the files in m: a
// WriteAt, Preallocate or Truncate that would exceed it fails with an
// *fs.PathError wrapping syscall.ENOSPC and changes nothing. Zero, the
// default, means unlimited. Lowering it below the current use fails only
// later growth.
func (m *MemFS) SetCapacity(bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacityBytes = bytes
}

// FailNth returns an injector that fails only the n-th call (1-based) of
// op with err, or ErrInjected if err is nil. It is safe for concurrent
// use; which concurrent call is the n-th is then up to the scheduler.
func FailNth(op Op, n int, err error) func(Op, string) error {
	err = orInjected(err)
	var calls atomic.Int64
	return func(o Op, _ string) error {
		if o == op && calls.Add(1) == int64(n) {
			return err
		}
		return nil
	}
}

// FailMatching returns an injector that fails every call of op whose name
// contains substr with err, or ErrInjected if err is nil.
func FailMatching(op Op, substr string, err error) func(Op, string) error {
	err = orInjected(err)
	return func(o Op, name string) error {
		if o == op && strings.Contains(name, substr) {
			return err
		}
		return nil
	}
}

func orInjected(err error) error {
	if err == nil {
		return ErrInjected
	}
	return err
}
