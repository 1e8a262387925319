// Package workload is the closed-loop driver shared by the peer benchmarks:
// N clients, client i writing to group i % G one proposal at a time, a
// warmup, a measured window, a latency histogram, the process's CPU time
// over the window, and the one JSON line each command prints.
//
// The systems under test (Dragonboat, hashicorp/raft) plug in through the
// System interface; the driver knows nothing of either.
package workload

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

// System is a running set of Raft groups, each with its replicas, that the
// driver writes to.
type System interface {
	// Propose writes payload as one entry of group g (0 <= g < groups) and
	// returns once the group's leader has committed and applied it. It is
	// called by many goroutines at once; it must not keep or change payload
	// beyond what the library does with it. retries counts the attempts that
	// failed and were made again (leadership change, busy, timeout); err is
	// the error of the last attempt when the write was given up.
	Propose(g int, payload []byte) (retries int, err error)
	// SyncStats returns cumulative counters over every replica of every
	// group: log entries written to stable storage and the synchronous
	// writes (fsyncs) that made them durable. ok is false when the library
	// exposes nothing to count them with.
	SyncStats() (entries, syncs uint64, ok bool)
}

// Config is one run of the workload.
type Config struct {
	Payload  int           // bytes per write
	Clients  int           // closed-loop clients
	Groups   int           // Raft groups
	Duration time.Duration // measured window
	Warmup   time.Duration // before the window; its operations are not counted
}

// Validate reports a configuration the driver cannot run.
func (c Config) Validate() error {
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

// Result is the JSON line a command prints. Field order and names are the
// schema the matrix script and the comparison read.
type Result struct {
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

// WriteJSON writes r as one line.
func (r Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Stats are the run's counts beside the Result, for tests and for the
// human-readable summary on stderr.
type Stats struct {
	Ops        uint64        // operations completed inside the measured window
	TotalOps   uint64        // operations completed over the whole run, warmup included
	Errors     uint64        // operations given up (over the whole run)
	Retries    uint64        // retried attempts (over the whole run)
	Window     time.Duration // the measured window as it really was
	SyncedEnts uint64        // entries made durable inside the window, all replicas
	Syncs      uint64        // synchronous writes inside the window, all replicas
}

func (s Stats) String() string {
	return fmt.Sprintf("ops=%d in %v, total ops=%d, errors=%d, retries=%d, synced entries=%d, syncs=%d",
		s.Ops, s.Window.Round(time.Millisecond), s.TotalOps, s.Errors, s.Retries, s.SyncedEnts, s.Syncs)
}

// maxSamples bounds the latency samples one client keeps in the window; past
// it the client keeps a uniform reservoir sample. At the rates of these
// systems (tens of thousands of operations per second at most on this
// machine) it is never reached in a 10 s window; it only keeps a very long
// run from growing without bound.
const maxSamples = 1 << 21

type client struct {
	lat     []int64 // latencies in ns of the operations completed inside the window
	seen    uint64  // operations completed inside the window (may exceed len(lat))
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

// Run drives sys with cfg and returns the result, named system, and the
// counts behind it. It returns once every client has finished its last
// operation.
func Run(system string, sys System, cfg Config) (Result, Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, Stats{}, err
	}
	base := time.Now()
	// Nanoseconds since base of the window's start and end; 0 while unset.
	// A client counts an operation when it completes inside the window.
	var winStart, winEnd atomic.Int64
	var stop atomic.Bool

	clients := make([]*client, cfg.Clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &client{rng: rand.New(rand.NewPCG(uint64(i), 0x5eed))}
		clients[i] = c
		payload := make([]byte, cfg.Payload)
		for j := range payload {
			payload[j] = byte(c.rng.Uint32())
		}
		g := i % cfg.Groups
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				t0 := time.Since(base)
				retries, err := sys.Propose(g, payload)
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
		}()
	}

	time.Sleep(cfg.Warmup)
	ru0 := cpuTime()
	e0, s0, syncOK := sys.SyncStats()
	start := time.Since(base)
	winStart.Store(max(int64(start), 1))
	time.Sleep(cfg.Duration)
	end := time.Since(base)
	winEnd.Store(int64(end))
	e1, s1, _ := sys.SyncStats()
	ru1 := cpuTime()
	stop.Store(true)
	wg.Wait()

	var st Stats
	st.Window = end - start
	var all []int64
	for _, c := range clients {
		st.Ops += c.seen
		st.TotalOps += c.total
		st.Errors += c.errors
		st.Retries += c.retries
		all = append(all, c.lat...)
	}
	slices.Sort(all)
	secs := st.Window.Seconds()
	ops := float64(st.Ops) / secs
	r := Result{
		System:     system,
		Payload:    cfg.Payload,
		Clients:    cfg.Clients,
		Groups:     cfg.Groups,
		OpsPerSec:  round(ops, 1),
		P50us:      round(Percentile(all, 0.50)/1e3, 1),
		P99us:      round(Percentile(all, 0.99)/1e3, 1),
		P999us:     round(Percentile(all, 0.999)/1e3, 1),
		MBPerSec:   round(ops*float64(cfg.Payload)/1e6, 4),
		CPUSeconds: round((ru1 - ru0).Seconds(), 3),
	}
	if syncOK {
		st.SyncedEnts, st.Syncs = e1-e0, s1-s0
		if st.Syncs > 0 {
			r.EntriesPerFsync = round(float64(st.SyncedEnts)/float64(st.Syncs), 2)
		}
	}
	return r, st, nil
}

// Percentile returns the q-quantile (0 < q <= 1) of sorted by the
// nearest-rank method, or 0 for no samples.
func Percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return float64(sorted[rank-1])
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// cpuTime is the user plus system CPU time of the whole process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
