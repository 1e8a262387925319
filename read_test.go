package raftpipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/timewheel"
)

// driven is a manual clock shared by a cluster's hosts, which a goroutine
// moves one tick every 2 ms of real time while running. Paused, time
// stands still: leases neither lapse nor get renewed by new rounds.
type driven struct {
	clock *timewheel.ManualClock
	tick  time.Duration
	mu    sync.Mutex
	stop  chan struct{}
	done  chan struct{}
}

func newDriven(t *testing.T, tick time.Duration) *driven {
	d := &driven{clock: timewheel.NewManualClock(time.Unix(1_000_000, 0)), tick: tick}
	t.Cleanup(d.pause)
	return d
}

func (d *driven) run() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop != nil {
		return
	}
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				d.clock.Add(d.tick)
			}
		}
	}(d.stop, d.done)
}

func (d *driven) pause() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop != nil {
		close(d.stop)
		<-d.done
		d.stop = nil
	}
}

// drivenCluster is a 3-host, 1-group cluster on one driven clock.
func drivenCluster(t *testing.T) (*cluster, *driven) {
	d := newDriven(t, 10*time.Millisecond)
	d.run()
	c := newCluster(t, 3, 1, func(_ int, cfg *Config, o *hostOptions) {
		cfg.TickInterval = d.tick
		o.clock = d.clock
	})
	return c, d
}

// waitLease waits until host i holds a lease on group that lasts beyond
// the clock's present.
func waitLease(t *testing.T, c *cluster, d *driven, i int) time.Time {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := c.hosts[i].Status(1); err == nil && st.LeaseExpiry.After(d.clock.Now()) {
			return st.LeaseExpiry
		}
		<-time.After(time.Millisecond)
	}
	t.Fatalf("host %d never held a lease", i+1)
	return time.Time{}
}

// While its lease holds, a leader cut off from every peer still serves
// lease reads: they need no network round trip. Once the clock passes the
// lease, the cut-off leader serves no read at all, while the others elect
// a new leader and commit a newer value; after the partition heals, a
// follower read on the old leader returns that newer value.
func TestLeaseReadsAndPartitionedLeader(t *testing.T) {
	c, d := drivenCluster(t)
	c.put(1, "k", "old")
	old := c.leader(1)
	waitLease(t, c, d, old)

	d.pause()
	c.partition(old)
	until := waitLease(t, c, d, old)
	before := c.hosts[old].Stats().Stages
	for _, mode := range []ReadMode{LeaseOnly, Linearizable} {
		if v, err := c.get(old, 1, "k", mode); err != nil || v != "old" {
			t.Fatalf("%v read on the partitioned leader within its lease: %q, %v", mode, v, err)
		}
	}
	after := c.hosts[old].Stats().Stages
	if after.LeaseReads != before.LeaseReads+2 || after.IndexReads != before.IndexReads {
		t.Fatalf("lease reads %d -> %d, index reads %d -> %d: want two lease reads and no round", before.LeaseReads, after.LeaseReads, before.IndexReads, after.IndexReads)
	}

	// Past the lease (as the leader's clock tells it), nothing but a stale
	// read is served, and the others are free to move on.
	d.clock.Add(until.Sub(d.clock.Now()) + d.tick)
	if _, err := c.get(old, 1, "k", LeaseOnly); !errors.Is(err, ErrNoLease) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("lease read after the lease: %v, want ErrNoLease or ErrNotLeader", err)
	}
	d.run()
	newLeader := -1
	deadline := time.Now().Add(20 * time.Second)
	for newLeader < 0 && time.Now().Before(deadline) {
		for i, h := range c.hosts {
			if st, err := h.Status(1); i != old && err == nil && st.Role == Leader {
				newLeader = i
			}
		}
		<-time.After(2 * time.Millisecond)
	}
	if newLeader < 0 {
		t.Fatal("the majority elected no new leader")
	}
	for {
		if err := c.tryPutOn(newLeader, 1, "k", "new"); err == nil {
			break
		} else if !retryable(err) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	for _, mode := range []ReadMode{Linearizable, ReadIndexOnly, LeaseOnly, FollowerRead} {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		v, err := c.hosts[old].Read(ctx, 1, []byte("k"), mode)
		cancel()
		if err == nil {
			t.Fatalf("%v read on the partitioned old leader returned %q; a stale read was served", mode, v)
		}
	}
	if v, err := c.get(old, 1, "k", Stale); err != nil || v != "old" {
		t.Fatalf("stale read on the old leader: %q, %v", v, err)
	}

	c.heal(old)
	deadline = time.Now().Add(20 * time.Second)
	for {
		v, err := c.get(old, 1, "k", FollowerRead)
		if err == nil {
			if v != "new" {
				t.Fatalf("follower read after the heal: %q, want the acknowledged %q", v, "new")
			}
			break
		}
		if !retryable(err) && !errors.Is(err, ErrTimeout) || time.Now().After(deadline) {
			t.Fatalf("follower read after the heal: %v", err)
		}
	}
}

// Reads that arrive while a ReadIndex round is in flight wait for it and
// then share the next one: 64 reads cost two rounds. The first round is
// held up by cutting the leader off with the clock stopped (no ticks, so
// no election and no heartbeat), so that every other read arrives during
// it.
func TestReadIndexRoundsShared(t *testing.T) {
	c, d := drivenCluster(t)
	c.put(1, "k", "v")
	ld := c.leader(1)
	d.pause()
	c.partition(ld)
	before := c.hosts[ld].Stats().Stages
	const readers = 64
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			v, err := c.hosts[ld].Read(ctx, 1, []byte("k"), ReadIndexOnly)
			if err == nil && string(v) != "v" {
				err = errors.New("read " + string(v))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.hosts[ld].Stats().Stages.IndexReads < before.IndexReads+readers {
		if time.Now().After(deadline) {
			t.Fatal("the reads never reached the host")
		}
		<-time.After(time.Millisecond)
	}
	c.heal(ld)
	d.run()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if rounds := c.hosts[ld].Stats().Stages.ReadRounds - before.ReadRounds; rounds > 3 {
		t.Fatalf("%d reads took %d rounds, want 2 (3 if one read was still on its way into the worker)", readers, rounds)
	}
}

// tryPutOn writes key=value in group through host i.
func (c *cluster) tryPutOn(i int, group uint64, key, value string) error {
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	res, err := c.hosts[i].Propose(ctx, group, fsm.EncodePut(nil, []byte(key), []byte(value)))
	if err == nil && (len(res) != 1 || res[0] != fsm.StatusOK) {
		err = fmt.Errorf("put %s on host %d: result %v", key, i+1, res)
	}
	return err
}
