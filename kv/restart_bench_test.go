package kv

import (
	"context"
	"errors"
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe"
)

var restartEntries = flag.Int("kv.restart-entries", 100_000, "entries applied before BenchmarkRestart restarts the host (make bench-restart: 1,000,000)")

// BenchmarkRestart applies -kv.restart-entries puts to one group of a
// single-voter host on the Pebble store, stops the host cleanly, and
// measures the restart: opening the log and the store, starting the group
// and serving a first write. It reports the seconds that took and the
// entries the apply stage applied in it: the log's entries are not
// replayed, because the store's applied index is as new as the log.
func BenchmarkRestart(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		p := startPebbleHost(b, dir, 1)
		fillThroughHost(b, p, *restartEntries)
		p.stop(b)
		b.StartTimer()
		start := time.Now()
		p = startPebbleHost(b, dir, 1)
		p.propose(b, 1, EncodePut(nil, []byte("after"), []byte("restart")))
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(elapsed.Seconds(), "restart-s")
		b.ReportMetric(float64(p.h.Stats().Stages.Apply.Items), "entries-applied-at-restart")
		b.ReportMetric(float64(*restartEntries), "entries-before")
		p.stop(b)
		b.StartTimer()
	}
}

// fillThroughHost proposes n puts from 256 clients.
func fillThroughHost(b *testing.B, p *pebbleHost, n int) {
	const clients = 256
	var wg sync.WaitGroup
	per := (n + clients - 1) / clients
	val := make([]byte, 100)
	for c := range clients {
		wg.Go(func() {
			for i := range per {
				key := []byte{byte(c), byte(i >> 16), byte(i >> 8), byte(i)}
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := p.h.Propose(ctx, 1, EncodePut(nil, key, val))
					cancel()
					if err == nil {
						break
					}
					if !retryableBench(err) {
						b.Error(err)
						return
					}
					<-time.After(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
}

func retryableBench(err error) bool {
	return errors.Is(err, raftpipe.ErrNotLeader) || errors.Is(err, raftpipe.ErrBusy) || errors.Is(err, raftpipe.ErrProposalDropped)
}
