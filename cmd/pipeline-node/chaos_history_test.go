package main

// The chaos tests' record of what their clients did, the sequential
// specification it must be explainable by, and the check (Porcupine).
//
// Every operation keeps its call and return times on one monotonic clock
// (time.Since the history's start) and its fate:
//
//   - ok: the node answered; a read's value or a write's reply is known.
//   - failed: surely nothing happened (a read that erred; a write answered
//     -TRYAGAIN or -BUSY, or never sent because the dial failed). It is
//     left out of the history: if the write did take effect after all, a
//     read of its unique value has no write to explain it, and the check
//     fails, as it should.
//   - unknown: a write answered -UNCERTAIN, or lost to a timeout or a
//     broken connection. It returns after every other operation, so the
//     checker may place it anywhere after its call, including after
//     everything (never visible).
//
// The model is one register per key: GET, SET (each value unique in the
// test, so a read names the write it saw) and INCR on counter keys (a
// write applied twice shows as a count off by one, which a SET cannot
// show). Porcupine checks each key on its own, which linearizability
// allows (it is a local property); with keys renamed every epoch
// (keyspace), that keeps the check of a long run fast and small.

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

type opKind uint8

const (
	opGet opKind = iota
	opSet
	opIncr
)

func (k opKind) String() string { return [...]string{"GET", "SET", "INCR"}[k] }

type fate uint8

const (
	fateOK fate = iota
	fateUnknown
	fateFailed
)

func (f fate) String() string { return [...]string{"ok", "unknown", "failed"}[f] }

// kvInput is an operation as called.
type kvInput struct {
	Kind  opKind
	Key   string
	Value string // SET's value
}

// kvOutput is what the node answered.
type kvOutput struct {
	Value   string // GET's value, INCR's new count
	Exists  bool   // GET: the key had a value
	Unknown bool   // a write of unknown fate: there is no reply to match
}

// regState is one key's value in the model; INCR reads it as an integer,
// as Redis does, and a missing key as 0.
type regState struct {
	val string
	set bool
}

// opRecord is one operation of the history.
type opRecord struct {
	client    int // the worker, or a final reader
	in        kvInput
	out       kvOutput
	call, ret int64 // nanoseconds since the history's start
	fate      fate
	node      uint64 // the node it went to
	via       string // the node and mode: "n2", "n3 READONLY"
	err       string // why it failed or is of unknown fate
}

// faultSpan is a fault the nemesis injected, for the summary and the
// visualization.
type faultSpan struct {
	kind   string
	node   uint64
	from   int64 // injected
	healed int64 // the node resumed (still cut off, if both), restarted, or rejoined its peers
	to     int64 // every node ready again
}

func (f faultSpan) String() string {
	ms := func(t int64) time.Duration { return time.Duration(t).Round(time.Millisecond) }
	return fmt.Sprintf("%s n%d at %s, healed at %s, all ready at %s", f.kind, f.node, ms(f.from), ms(f.healed), ms(f.to))
}

// history is safe for concurrent use by the workers.
type history struct {
	start   time.Time
	clients atomic.Int64 // client IDs handed out

	mu     sync.Mutex
	ops    []opRecord
	faults []faultSpan
}

func newHistory() *history { return &history{start: time.Now()} }

// now is the history's clock: monotonic, shared by every client.
func (h *history) now() int64 { return int64(time.Since(h.start)) }

// newClient returns a new client ID: Porcupine's visualization draws a
// row per client.
func (h *history) newClient() int { return int(h.clients.Add(1) - 1) }

func (h *history) add(r opRecord) {
	h.mu.Lock()
	h.ops = append(h.ops, r)
	h.mu.Unlock()
}

func (h *history) addFault(f faultSpan) {
	h.mu.Lock()
	h.faults = append(h.faults, f)
	h.mu.Unlock()
}

func (h *history) records() ([]opRecord, []faultSpan) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops), slices.Clone(h.faults)
}

// operations turns records into Porcupine's operations: failed ones left
// out, unknown writes returning after everything else.
//
// An unknown SET whose value no read returned is left out too. That keeps
// the checker's search small (each pending unknown write doubles the
// states it may have to try) without changing its verdict: values are
// unique, so in any linearization no read sits between such a write and
// the next write of its key, and dropping it changes no read's result;
// conversely a linearization without it stays one with it placed last.
// Unknown INCRs cannot be told apart and stay.
func operations(recs []opRecord) []porcupine.Operation {
	read := map[string]map[string]bool{} // key -> values a read returned
	var end int64
	for _, r := range recs {
		if r.fate == fateFailed {
			continue
		}
		end = max(end, r.ret, r.call)
		if r.fate == fateOK && r.in.Kind == opGet && r.out.Exists {
			if read[r.in.Key] == nil {
				read[r.in.Key] = map[string]bool{}
			}
			read[r.in.Key][r.out.Value] = true
		}
	}
	var ops []porcupine.Operation
	for _, r := range recs {
		ret := r.ret
		switch {
		case r.fate == fateFailed:
			continue
		case r.fate == fateUnknown && r.in.Kind == opSet && !read[r.in.Key][r.in.Value]:
			continue
		case r.fate == fateUnknown:
			ret = end + 1
		}
		ops = append(ops, porcupine.Operation{
			ClientId: r.client, Input: r.in, Output: r.out, Call: r.call, Return: ret,
			Metadata: r.via + " " + r.err,
		})
	}
	return ops
}

func partitionByKey(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	for _, op := range ops {
		k := op.Input.(kvInput).Key
		byKey[k] = append(byKey[k], op)
	}
	var parts [][]porcupine.Operation
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		parts = append(parts, byKey[k])
	}
	return parts
}

var kvModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return regState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(regState), input.(kvInput), output.(kvOutput)
		switch in.Kind {
		case opGet:
			return out.Exists == s.set && out.Value == s.val, s
		case opSet:
			return true, regState{in.Value, true}
		default: // opIncr
			n := int64(0)
			if s.set {
				var err error
				if n, err = strconv.ParseInt(s.val, 10, 64); err != nil {
					return false, s // Redis refuses to INCR a non-integer
				}
			}
			next := regState{strconv.FormatInt(n+1, 10), true}
			return out.Unknown || out.Value == next.val, next
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch {
		case in.Kind == opGet && !out.Exists:
			return fmt.Sprintf("GET %s -> nil", in.Key)
		case in.Kind == opGet:
			return fmt.Sprintf("GET %s -> %s", in.Key, out.Value)
		case out.Unknown && in.Kind == opSet:
			return fmt.Sprintf("SET %s %s -> ?", in.Key, in.Value)
		case out.Unknown:
			return fmt.Sprintf("INCR %s -> ?", in.Key)
		case in.Kind == opSet:
			return fmt.Sprintf("SET %s %s -> OK", in.Key, in.Value)
		default:
			return fmt.Sprintf("INCR %s -> %s", in.Key, out.Value)
		}
	},
	DescribeState: func(state any) string {
		if s := state.(regState); s.set {
			return s.val
		}
		return "nil"
	},
}

// checkResult is the verdict on one history.
type checkResult struct {
	result  porcupine.CheckResult // Illegal if any key is; else Unknown if any timed out
	bad     []string              // keys not linearizable
	slow    []string              // keys whose check timed out
	ops     int
	keys    int
	elapsed time.Duration
	viz     string // the visualization of the bad keys, if any
}

// checkHistory checks every key within timeout in all. On a violation it
// writes Porcupine's visualization of the bad keys, and their operations
// as text, into dir.
func checkHistory(recs []opRecord, faults []faultSpan, timeout time.Duration, dir string) (checkResult, error) {
	start := time.Now()
	ops := operations(recs)
	parts := partitionByKey(ops)
	res := checkResult{result: porcupine.Ok, ops: len(ops), keys: len(parts)}
	deadline := start.Add(timeout)
	var badOps []porcupine.Operation
	for _, part := range parts {
		key := part[0].Input.(kvInput).Key
		left := time.Until(deadline)
		if left <= 0 {
			res.slow = append(res.slow, key)
			continue
		}
		switch porcupine.CheckOperationsTimeout(kvModel, part, left) {
		case porcupine.Illegal:
			res.bad = append(res.bad, key)
			badOps = append(badOps, part...)
		case porcupine.Unknown:
			res.slow = append(res.slow, key)
		}
	}
	switch {
	case len(res.bad) > 0:
		res.result = porcupine.Illegal
	case len(res.slow) > 0:
		res.result = porcupine.Unknown
	}
	if len(res.bad) > 0 {
		if err := writeViolation(&res, recs, badOps, faults, dir); err != nil {
			return res, err
		}
	}
	res.elapsed = time.Since(start)
	return res, nil
}

// writeViolation writes the visualization of the bad keys' operations, and
// the records of those keys (failed ones too: a value read back that was
// written by a write answered -TRYAGAIN shows there) as text.
func writeViolation(res *checkResult, recs []opRecord, badOps []porcupine.Operation, faults []faultSpan, dir string) error {
	_, info := porcupine.CheckOperationsVerbose(kvModel, badOps, 0)
	var notes []porcupine.Annotation
	for _, f := range faults {
		notes = append(notes, porcupine.Annotation{
			Tag: "nemesis", Start: f.from, End: f.healed,
			Description: fmt.Sprintf("%s n%d", f.kind, f.node),
			Details:     f.String(),
		})
	}
	info.AddAnnotations(notes)
	name := strings.Join(res.bad, "-")
	if len(res.bad) > 3 {
		name = fmt.Sprintf("%s-and-%d-more", strings.Join(res.bad[:3], "-"), len(res.bad)-3)
	}
	res.viz = filepath.Join(dir, "linearizability-"+name+".html")
	if err := porcupine.VisualizePath(kvModel, info, res.viz); err != nil {
		return fmt.Errorf("writing the visualization: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# operations of keys %s, by call time: call return client via op result fate error\n", strings.Join(res.bad, ", "))
	for _, f := range faults {
		fmt.Fprintf(&b, "# fault %s\n", f)
	}
	bad := recs[:0:0]
	for _, r := range recs {
		if slices.Contains(res.bad, r.in.Key) {
			bad = append(bad, r)
		}
	}
	slices.SortFunc(bad, func(a, b opRecord) int { return cmp.Compare(a.call, b.call) })
	for _, r := range bad {
		fmt.Fprintf(&b, "%d %d c%d %q %s %s\n", r.call, r.ret, r.client, r.via,
			kvModel.DescribeOperation(r.in, r.out), r.fate.String()+" "+r.err)
	}
	return os.WriteFile(strings.TrimSuffix(res.viz, ".html")+".txt", []byte(b.String()), 0o644)
}

// The checker must be able to fail: a read that misses an acknowledged
// write is rejected, a write of unknown fate may be seen (only after it
// was called) or never, and a write answered -TRYAGAIN must never be seen.
func TestChaosChecker(t *testing.T) {
	set := func(key, val string, call, ret int64, f fate) opRecord {
		return opRecord{in: kvInput{opSet, key, val}, out: kvOutput{Unknown: f == fateUnknown}, call: call, ret: ret, fate: f}
	}
	get := func(key, val string, call, ret int64) opRecord {
		return opRecord{client: 1, in: kvInput{Kind: opGet, Key: key}, out: kvOutput{Value: val, Exists: val != ""}, call: call, ret: ret}
	}
	incr := func(key, val string, call, ret int64, f fate) opRecord {
		return opRecord{client: 2, in: kvInput{Kind: opIncr, Key: key}, out: kvOutput{Value: val, Unknown: f == fateUnknown}, call: call, ret: ret, fate: f}
	}
	cases := []struct {
		name string
		recs []opRecord
		want porcupine.CheckResult
		bad  []string
	}{
		{"StaleReadAfterAcknowledgedWrite", []opRecord{
			set("x", "a", 0, 10, fateOK), set("x", "b", 20, 30, fateOK), get("x", "a", 40, 50),
			set("y", "a", 0, 10, fateOK), get("y", "a", 40, 50),
		}, porcupine.Illegal, []string{"x"}},
		{"ReadOfNothingAfterAcknowledgedWrite", []opRecord{
			set("x", "a", 0, 10, fateOK), get("x", "", 20, 30),
		}, porcupine.Illegal, []string{"x"}},
		{"UnknownWriteSeenLater", []opRecord{
			set("x", "a", 0, 10, fateOK), set("x", "b", 20, 0, fateUnknown),
			get("x", "a", 30, 40), get("x", "b", 50, 60), get("x", "b", 70, 80),
			set("x", "c", 90, 0, fateUnknown), // never seen: may have been lost
			get("x", "b", 100, 110),
		}, porcupine.Ok, nil},
		{"UnknownWriteSeenBeforeItsCall", []opRecord{
			get("x", "b", 0, 10), set("x", "b", 20, 0, fateUnknown),
		}, porcupine.Illegal, []string{"x"}},
		{"UnknownWriteSeenThenUnseen", []opRecord{
			set("x", "a", 0, 10, fateOK), set("x", "b", 20, 0, fateUnknown),
			get("x", "b", 30, 40), get("x", "a", 50, 60),
		}, porcupine.Illegal, []string{"x"}},
		{"FailedWriteSeen", []opRecord{
			set("x", "a", 0, 10, fateOK), set("x", "b", 20, 30, fateFailed), get("x", "b", 40, 50),
		}, porcupine.Illegal, []string{"x"}},
		{"CounterWithUnknownIncrement", []opRecord{
			incr("c", "1", 0, 10, fateOK), incr("c", "", 20, 0, fateUnknown),
			get("c", "1", 30, 40), incr("c", "3", 50, 60, fateOK), get("c", "3", 70, 80),
		}, porcupine.Ok, nil},
		{"CounterIncrementedTwice", []opRecord{
			incr("c", "1", 0, 10, fateOK), incr("c", "3", 20, 30, fateOK),
		}, porcupine.Illegal, []string{"c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := checkHistory(tc.recs, []faultSpan{{"pause-leader", 1, 5, 35, 45}}, 10*time.Second, dir)
			if err != nil {
				t.Fatal(err)
			}
			if res.result != tc.want || !slices.Equal(res.bad, tc.bad) {
				t.Fatalf("check: %s, bad keys %v; want %s, bad keys %v", res.result, res.bad, tc.want, tc.bad)
			}
			if tc.want == porcupine.Illegal {
				for _, f := range []string{res.viz, strings.TrimSuffix(res.viz, ".html") + ".txt"} {
					if st, err := os.Stat(f); err != nil || st.Size() == 0 {
						t.Errorf("violation file %s: %v", f, err)
					}
				}
			}
		})
	}
}
