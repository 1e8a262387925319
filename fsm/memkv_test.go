package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func put(k, v string) []byte { return EncodePut(nil, []byte(k), []byte(v)) }

func TestMemKVAppliesPutsAndDeletesInOrder(t *testing.T) {
	m := NewMemKV()
	ents := []Entry{
		{Index: 1, Cmd: put("a", "1")},
		{Index: 2}, // a no-op: counted, nothing else
		{Index: 3, Cmd: put("a", "2")},
		{Index: 4, Cmd: EncodeDelete(nil, []byte("b"))},
		{Index: 5, Cmd: put("b", "x")},
		{Index: 6, Cmd: EncodeDelete(nil, []byte("b"))},
	}
	if err := m.Update(ents); err != nil {
		t.Fatal(err)
	}
	if m.Applied() != 6 {
		t.Fatalf("applied %d, want 6", m.Applied())
	}
	if v, err := m.Lookup([]byte("a")); err != nil || string(v) != "2" {
		t.Fatalf("a = %q, %v; want the later put", v, err)
	}
	if _, err := m.Lookup([]byte("b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key looked up: %v", err)
	}
	wantResults := [][]byte{{StatusOK}, nil, {StatusOK}, {StatusOK, 0}, {StatusOK}, {StatusOK, 1}}
	for i, e := range ents {
		if !bytes.Equal(e.Result, wantResults[i]) {
			t.Errorf("entry %d result %v, want %v", e.Index, e.Result, wantResults[i])
		}
	}
}

// Exactly once, in order: a gap or a repeat is refused and changes
// nothing, so the host notices instead of diverging.
func TestMemKVRefusesOutOfOrderEntries(t *testing.T) {
	m := NewMemKV()
	if err := m.Update([]Entry{{Index: 1, Cmd: put("k", "1")}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]Entry{
		{{Index: 3, Cmd: put("k", "gap")}},
		{{Index: 1, Cmd: put("k", "again")}},
		{{Index: 2, Cmd: put("k", "2")}, {Index: 2, Cmd: put("k", "twice")}},
	} {
		err := m.Update(bad)
		if !errors.Is(err, ErrOutOfOrder) {
			t.Fatalf("Update(%v) = %v, want ErrOutOfOrder", bad, err)
		}
	}
	// The valid prefix of the last batch was applied; nothing after it.
	if v, _ := m.Lookup([]byte("k")); string(v) != "2" || m.Applied() != 2 {
		t.Fatalf("k = %q at %d, want \"2\" at 2", v, m.Applied())
	}
}

// A command that cannot be decoded is a result, not an error: the group
// goes on, and the state is unchanged.
func TestMemKVBadCommandIsAResult(t *testing.T) {
	for _, cmd := range [][]byte{
		{},
		{opPut},
		{opPut, 10, 'k'},
		{9, 1, 'k'},
		append(EncodeDelete(nil, []byte("k")), 'x'),
	} {
		m := NewMemKV()
		ents := []Entry{{Index: 1, Cmd: cmd}}
		if err := m.Update(ents); err != nil {
			t.Fatalf("Update(%q) failed the machine: %v", cmd, err)
		}
		if len(ents[0].Result) == 0 || ents[0].Result[0] != StatusBadCommand || m.Len() != 0 || m.Applied() != 1 {
			t.Fatalf("Update(%q): result %q, %d keys, applied %d", cmd, ents[0].Result, m.Len(), m.Applied())
		}
	}
}

// The machine keeps no reference to the host's buffers, and hands out
// none of its own.
func TestMemKVCopiesValues(t *testing.T) {
	m := NewMemKV()
	cmd := put("k", "value")
	if err := m.Update([]Entry{{Index: 1, Cmd: cmd}}); err != nil {
		t.Fatal(err)
	}
	copy(cmd[len(cmd)-5:], "XXXXX") // the host reuses its buffer
	v, _ := m.Lookup([]byte("k"))
	v[0] = 'Y'
	if again, _ := m.Lookup([]byte("k")); string(again) != "value" {
		t.Fatalf("stored value changed to %q", again)
	}
}

// Lookups run beside Update and see every Update that returned before
// them (run with -race).
func TestMemKVLookupBesideUpdate(t *testing.T) {
	m := NewMemKV()
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= n; i++ {
			if err := m.Update([]Entry{{Index: i, Cmd: put("k", fmt.Sprint(i))}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for seen := uint64(0); seen < n; {
		applied := m.Applied()
		v, err := m.Lookup([]byte("k"))
		if applied == 0 {
			continue
		}
		var got uint64
		if err == nil {
			_, err = fmt.Sscan(string(v), &got)
		}
		if err != nil || got < applied {
			t.Fatalf("lookup after applied=%d returned %q (%v)", applied, v, err)
		}
		seen = applied
	}
	wg.Wait()
}

func TestMemKVClosed(t *testing.T) {
	m := NewMemKV()
	m.Close()
	if err := m.Update([]Entry{{Index: 1}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
	if _, err := m.Lookup([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Lookup after Close: %v", err)
	}
}
