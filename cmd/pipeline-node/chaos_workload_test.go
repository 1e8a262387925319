package main

// The chaos tests' clients: a few workers per node, each with its own
// go-redis client (go-redis v9.23.0 races when one client opens several
// connections at once) on a plain or a READONLY connection, doing GET, SET
// and INCR on a handful of keys as fast as the cluster answers, and
// recording every operation in the history. Few keys, so that reads and
// writes of one key overlap and meet across faults; a per-test key prefix
// is not needed, each test runs a fresh cluster.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyspace is the workload's keys: a few registers (GET, SET) and
// counters (GET, INCR), renamed every epoch: r3@0 is register 3 of the
// first epoch. Porcupine's search grows faster than a key's history, and
// a write of unknown fate stays pending to the history's end: one long
// run's 300,000 operations on 10 keys took it minutes and more memory
// than the machine had. A key that lives one epoch keeps each history
// short however long the run. Little is lost: linearizability is checked
// key by key anyway (it is a local property), each key still sees faults
// within its epoch, and the final reads read every epoch's keys, so a
// write lost long after its epoch still shows.
type keyspace struct {
	registers, counters int
	epoch               time.Duration
}

// registerKeys returns the registers of the epoch at now.
func (ks keyspace) registerKeys(now int64) []string {
	var keys []string
	for i := range ks.registers {
		keys = append(keys, fmt.Sprintf("r%d@%d", i, now/int64(ks.epoch)))
	}
	return keys
}

// pick returns a key of the epoch at now (nanoseconds of the history),
// and whether it is a counter.
func (ks keyspace) pick(rng *rand.Rand, now int64) (string, bool) {
	e := now / int64(ks.epoch)
	i := rng.IntN(ks.registers + ks.counters)
	if i < ks.registers {
		return fmt.Sprintf("r%d@%d", i, e), false
	}
	return fmt.Sprintf("c%d@%d", i-ks.registers, e), true
}

// newChaosClient is a client whose every operation ends within a few
// seconds: a 1 s dial, reads that wait 2 s, above the nodes'
// --client.request-timeout of 1 s so that a node's own -TRYAGAIN or
// -UNCERTAIN arrives first, and no retries: a write is recorded as
// acknowledged only if its own reply said so.
func newChaosClient(addr string, readonly bool) *redis.Client {
	opts := &redis.Options{
		Addr:         addr,
		MaxRetries:   -1,
		DialTimeout:  time.Second,
		ReadTimeout:  2 * time.Second,
		WriteTimeout: 2 * time.Second,
		PoolSize:     1,
	}
	if readonly {
		opts.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }
	}
	return redis.NewClient(opts)
}

// workload runs the workers until stop.
type workload struct {
	h       *history
	keys    keyspace
	stopped atomic.Bool
	wg      sync.WaitGroup
}

// startWorkload starts perNode workers per node, alternately plain and
// READONLY; worker i's choices come from (seed, i).
func startWorkload(h *history, nodes []*node, keys keyspace, perNode int, seed uint64) *workload {
	w := &workload{h: h, keys: keys}
	for i := range perNode * len(nodes) {
		n, readonly := nodes[i%len(nodes)], (i/len(nodes))%2 == 1
		w.wg.Add(1)
		go w.worker(h.newClient(), n, readonly, rand.New(rand.NewPCG(seed, uint64(i))))
	}
	return w
}

// stop ends the workers after their operations in flight, which end by
// the clients' timeouts: none is cut short and left unrecorded.
func (w *workload) stop() {
	w.stopped.Store(true)
	w.wg.Wait()
}

func (w *workload) worker(id int, n *node, readonly bool, rng *rand.Rand) {
	defer w.wg.Done()
	rdb := newChaosClient(n.client, readonly)
	defer rdb.Close()
	via := fmt.Sprintf("n%d", n.id)
	if readonly {
		via += " READONLY"
	}
	for seq := 0; !w.stopped.Load(); seq++ {
		key, counter := w.keys.pick(rng, w.h.now())
		in := kvInput{Kind: opGet, Key: key}
		if rng.IntN(2) == 0 {
			if counter {
				in.Kind = opIncr
			} else {
				in.Kind, in.Value = opSet, fmt.Sprintf("w%d-%d", id, seq)
			}
		}
		r := doOp(w.h, rdb, id, n.id, via, in)
		if r.fate != fateOK {
			<-time.After(20 * time.Millisecond) // a node down: do not spin
		}
	}
}

// doOp runs one operation and records it.
func doOp(h *history, rdb *redis.Client, client int, node uint64, via string, in kvInput) opRecord {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := opRecord{client: client, in: in, node: node, via: via, call: h.now()}
	var err error
	switch in.Kind {
	case opGet:
		r.out.Value, err = rdb.Get(ctx, in.Key).Result()
		r.out.Exists = err == nil
		if errors.Is(err, redis.Nil) {
			err = nil
		}
	case opSet:
		err = rdb.Set(ctx, in.Key, in.Value, 0).Err()
	case opIncr:
		var n int64
		n, err = rdb.Incr(ctx, in.Key).Result()
		r.out.Value = fmt.Sprint(n)
	}
	r.ret = h.now()
	r.fate = fateOf(in.Kind, err)
	if err != nil {
		r.err = errKind(err)
		r.out = kvOutput{Unknown: r.fate == fateUnknown}
	}
	h.add(r)
	return r
}

// fateOf says what a reply's error tells of the operation; see history.
func fateOf(k opKind, err error) fate {
	var op *net.OpError
	switch {
	case err == nil:
		return fateOK
	case k == opGet:
		return fateFailed
	case tryAgain(err), redis.HasErrorPrefix(err, "BUSY"):
		return fateFailed // the node says: surely not applied
	case errors.As(err, &op) && op.Op == "dial":
		return fateFailed // never sent
	default:
		return fateUnknown // -UNCERTAIN, a timeout, a connection lost, anything unforeseen
	}
}

// errKind names an error briefly, for the summary.
func errKind(err error) string {
	var op *net.OpError
	switch {
	case tryAgain(err):
		return "TRYAGAIN"
	case uncertain(err):
		return "UNCERTAIN"
	case redis.HasErrorPrefix(err, "BUSY"):
		return "BUSY"
	case errors.As(err, &op) && op.Timeout():
		return op.Op + " timeout"
	case errors.As(err, &op):
		return op.Op + " error"
	case isConnErr(err):
		return "connection"
	}
	return err.Error()
}
