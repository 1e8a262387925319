package raftpipe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftpipe/raftpipe/fsm"
)

// A host whose disk has stalled is saturated: nothing it accepts can
// commit. The queues before the step worker are small here and the
// group's uncommitted bytes are bounded, so proposers are refused with
// ErrBusy or wait out their own deadline (ErrTimeout); none is accepted,
// none hangs, and no queue holds more than its bound. (The fsync queue is
// large so that the worker is not the one held back first: with a small
// one, the worker waits on it, and every caller times out instead, which
// is the other answer a saturated host may give.)
func TestBackPressureBusyOrWaitWithinContext(t *testing.T) {
	const cmdBytes, uncommittedMax = 1 << 10, 16 << 10
	c, fss := newDiskCluster(t, 1, func(cfg *Config) {
		cfg.ProposeQueue, cfg.WorkerQueue, cfg.FsyncQueue, cfg.ApplyQueue = 4, 4, 1024, 4
		cfg.Workers = 1
		cfg.Raft.UncommittedBytesMax = uncommittedMax
		cfg.BatchBytesMax = 4 << 10
	})
	h := c.hosts[0]
	parked := fss[0].holdSyncs(t, nil)

	const proposers = 64
	var wg sync.WaitGroup
	errs := make(chan error, proposers)
	for i := range proposers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			v := make([]byte, cmdBytes)
			_, err := h.Propose(ctx, 1, fsm.EncodePut(nil, []byte(fmt.Sprint(i)), v))
			errs <- err
		})
	}
	waitEvent(t, parked, "the first proposal's write parks in its sync")
	wg.Wait()
	close(errs)
	var busy, timeout int
	for err := range errs {
		switch {
		case errors.Is(err, ErrBusy):
			busy++
		case errors.Is(err, ErrTimeout) && errors.Is(err, context.DeadlineExceeded):
			timeout++
		default:
			t.Fatalf("a proposal to a saturated host returned %v, want ErrBusy or ErrTimeout", err)
		}
	}
	if busy == 0 {
		t.Fatalf("%d timeouts and no ErrBusy: the uncommitted bound (%d bytes) never refused work", timeout, uncommittedMax)
	}
	st := h.engine.Stats()
	for name, s := range map[string]struct{ depth, max int }{
		"batch": {st.Batch.QueueDepth, 4}, "fsync": {st.Fsync.QueueDepth, 1024}, "apply": {st.Apply.QueueDepth, 4}, "worker": {st.Workers[0].QueueDepth, 4},
	} {
		if s.depth > s.max {
			t.Fatalf("%s queue holds %d, beyond its bound %d", name, s.depth, s.max)
		}
	}
}
