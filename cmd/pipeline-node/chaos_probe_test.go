package main

// Probes: reads aimed by the nemesis at a node that could answer them from
// a stale state, a leader paused or cut off after its successor took over,
// or a lagging follower. The workload alone hardly makes such reads: its
// workers on a paused node are stuck from the moment of the pause, so each
// read pending there began before anything changed, and whatever it
// returns is linearizable. A probe first writes a fresh value through a
// node that serves, then, with the target still paused or cut off, sends
// it a read of that key, plain and READONLY. If the target answers from
// its old state once it resumes or rejoins (a lease that outlived the
// pause, a follower read that skipped the read index), the read misses a
// write acknowledged before it began, and the check fails.

import (
	"fmt"
	"sync"
)

type probes struct {
	wg sync.WaitGroup
}

// launchProbes writes each key through via, then reads it through target
// in the background, each read with a client of its own (go-redis races
// when one client dials several connections at once). The reads wait on
// target, within the clients' 2 s timeout: resume or heal it before.
func launchProbes(h *history, keys []string, via, target *node) *probes {
	p := &probes{}
	writer := newChaosClient(via.client, false)
	defer writer.Close()
	wid := h.newClient()
	for i, k := range keys {
		set := kvInput{Kind: opSet, Key: k, Value: fmt.Sprintf("probe%d-%d", wid, i)}
		if r := doOp(h, writer, wid, via.id, fmt.Sprintf("n%d probe", via.id), set); r.fate != fateOK {
			continue
		}
		for _, readonly := range []bool{false, true} {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				rdb := newChaosClient(target.client, readonly)
				defer rdb.Close()
				how := fmt.Sprintf("n%d probe", target.id)
				if readonly {
					how = fmt.Sprintf("n%d READONLY probe", target.id)
				}
				doOp(h, rdb, h.newClient(), target.id, how, kvInput{Kind: opGet, Key: k})
			}()
		}
	}
	return p
}

// wait waits for the probes' reads.
func (p *probes) wait() { p.wg.Wait() }
