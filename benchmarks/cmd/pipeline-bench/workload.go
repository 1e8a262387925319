package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This file is benchmarks/peers/internal/workload's driver, rewritten
// rather than imported: the peers are another module, which the main one
// must not depend on. What it measures must stay the same as there: client
// i writes to group i % G one write at a time, an operation counts when it
// completes inside the window, nearest-rank percentiles, getrusage CPU time
// at the window's edges, the same JSON line. Change both or neither.

// system is what the driver writes to (the peers' workload.System).
type system interface {
	// command turns client i's payload into the entry it writes, once per
	// run, so that encoding costs nothing per write (the peers write the
	// payload itself as the entry).
	command(client int, payload []byte) []byte
	// propose writes cmd as one entry of group g (0 <= g < groups) and
	// returns once the leader has applied it, with the failed attempts it
	// retried and the last attempt's error if it gave up. Many clients
	// call it at once; cmd is never changed, so the log may keep it.
	propose(g int, cmd []byte) (retries int, err error)
	// syncStats returns cumulative log entries made durable and the
	// fsyncs that did it, over every replica.
	syncStats() (entries, syncs uint64)
}

// config is one run of the workload.
type config struct {
	Payload  int             // bytes per write
	Clients  int             // closed-loop clients
	Groups   int             // Raft groups
	Duration time.Duration   // measured window
	Warmup   time.Duration   // before the window; its operations are not counted
	onWindow func(open bool) // if set, called as the window opens and closes (profiling)
}

func (c config) validate() error {
	switch {
	case c.Payload < 1:
		return errors.New("payload must be at least 1 byte")
	case c.Clients < 1:
		return errors.New("clients must be at least 1")
	case c.Groups < 1:
		return errors.New("groups must be at least 1")
	case c.Duration <= 0:
		return errors.New("duration must be positive")
	case c.Warmup < 0:
		return errors.New("warmup must not be negative")
	}
	return nil
}

// result is the JSON line; names and order are the peers' schema, which
// run-matrix.sh reads.
type result struct {
	System          string  `json:"system"`
	Payload         int     `json:"payload"`
	Clients         int     `json:"clients"`
	Groups          int     `json:"groups"`
	OpsPerSec       float64 `json:"ops_per_sec"`
	P50us           float64 `json:"p50_us"`
	P99us           float64 `json:"p99_us"`
	P999us          float64 `json:"p999_us"`
	MBPerSec        float64 `json:"mb_per_sec"`
	EntriesPerFsync float64 `json:"entries_per_fsync"`
	CPUSeconds      float64 `json:"cpu_seconds"`
}

func (r result) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// counts are the raw figures behind a result, for the stderr summary.
type counts struct {
	Ops        uint64 // completed inside the window
	TotalOps   uint64 // completed over the whole run
	Errors     uint64 // given up, whole run
	Retries    uint64 // retried attempts, whole run
	Window     time.Duration
	SyncedEnts uint64 // entries made durable inside the window, all replicas
	Syncs      uint64 // fsyncs inside the window, all replicas
}

// String is the peers' summary line, so that stderr reads alike.
func (s counts) String() string {
	return fmt.Sprintf("ops=%d in %v, total ops=%d, errors=%d, retries=%d, synced entries=%d, syncs=%d",
		s.Ops, s.Window.Round(time.Millisecond), s.TotalOps, s.Errors, s.Retries, s.SyncedEnts, s.Syncs)
}

// maxSamples bounds one client's latency samples; past it the client keeps
// a uniform reservoir, so a very long run cannot grow without bound.
const maxSamples = 1 << 21

type client struct {
	lat     []int64 // ns, operations completed inside the window
	seen    uint64  // operations completed inside the window; may exceed len(lat)
	total   uint64
	errors  uint64
	retries uint64
	rng     *rand.Rand
}

func (c *client) record(ns int64) {
	c.seen++
	if len(c.lat) < maxSamples {
		c.lat = append(c.lat, ns)
		return
	}
	if j := c.rng.Uint64N(c.seen); j < maxSamples {
		c.lat[j] = ns
	}
}

// drive runs cfg against sys and returns once every client has finished
// its last operation.
func drive(name string, sys system, cfg config) (result, counts, error) {
	if err := cfg.validate(); err != nil {
		return result{}, counts{}, err
	}
	base := time.Now()
	// The window's edges in ns since base, 0 while unset.
	var winStart, winEnd atomic.Int64
	var stop atomic.Bool

	clients := make([]*client, cfg.Clients)
	var wg sync.WaitGroup
	for i := range clients {
		// The peers' seeds, so both draw the same payloads.
		c := &client{rng: rand.New(rand.NewPCG(uint64(i), 0x5eed))}
		clients[i] = c
		payload := make([]byte, cfg.Payload)
		for j := range payload {
			payload[j] = byte(c.rng.Uint32())
		}
		cmd := sys.command(i, payload)
		g := i % cfg.Groups
		wg.Go(func() {
			for !stop.Load() {
				t0 := time.Since(base)
				retries, err := sys.propose(g, cmd)
				t1 := time.Since(base)
				c.retries += uint64(retries)
				if err != nil {
					c.errors++
					continue
				}
				c.total++
				if s := winStart.Load(); s != 0 && int64(t1) >= s {
					if e := winEnd.Load(); e == 0 || int64(t1) < e {
						c.record(int64(t1 - t0))
					}
				}
			}
		})
	}

	<-time.After(cfg.Warmup)
	if cfg.onWindow != nil {
		cfg.onWindow(true)
		defer cfg.onWindow(false)
	}
	cpu0 := cpuTime()
	e0, s0 := sys.syncStats()
	start := time.Since(base)
	winStart.Store(max(int64(start), 1))
	<-time.After(cfg.Duration)
	end := time.Since(base)
	winEnd.Store(int64(end))
	e1, s1 := sys.syncStats()
	cpu1 := cpuTime()
	stop.Store(true)
	wg.Wait()

	st := counts{Window: end - start, SyncedEnts: e1 - e0, Syncs: s1 - s0}
	var all []int64
	for _, c := range clients {
		st.Ops += c.seen
		st.TotalOps += c.total
		st.Errors += c.errors
		st.Retries += c.retries
		all = append(all, c.lat...)
	}
	slices.Sort(all)
	ops := float64(st.Ops) / st.Window.Seconds()
	r := result{
		System:     name,
		Payload:    cfg.Payload,
		Clients:    cfg.Clients,
		Groups:     cfg.Groups,
		OpsPerSec:  round(ops, 1),
		P50us:      round(percentile(all, 0.50)/1e3, 1),
		P99us:      round(percentile(all, 0.99)/1e3, 1),
		P999us:     round(percentile(all, 0.999)/1e3, 1),
		MBPerSec:   round(ops*float64(cfg.Payload)/1e6, 4),
		CPUSeconds: round((cpu1 - cpu0).Seconds(), 3),
	}
	if st.Syncs > 0 {
		r.EntriesPerFsync = round(float64(st.SyncedEnts)/float64(st.Syncs), 2)
	}
	return r, st, nil
}

// percentile is the q-quantile (0 < q <= 1) of sorted by nearest rank, 0
// for no samples.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := min(max(int(math.Ceil(q*float64(len(sorted)))), 1), len(sorted))
	return float64(sorted[rank-1])
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// cpuTime is the whole process's user plus system CPU time: the three
// hosts and the clients, as for the peers.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
