package redis

import (
	"fmt"
	"slices"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// checkMixedPipeline sends writes and reads of every kind in one go-redis
// pipeline through cl and checks each reply in order: each read sees
// the writes before it in the pipeline, an error in the middle leaves
// the rest answered.
func checkMixedPipeline(t *testing.T, cl *goredis.Client, prefix string) {
	t.Helper()
	ctx := t.Context()
	k, j := prefix+"k", prefix+"j"
	pipe := cl.Pipeline()
	set1 := pipe.Set(ctx, k, "1", 0)
	incr := pipe.Incr(ctx, k)
	get1 := pipe.Get(ctx, k)
	setJ := pipe.Set(ctx, j, "x", 0)
	mget := pipe.MGet(ctx, k, j)
	del := pipe.Del(ctx, k)
	get2 := pipe.Get(ctx, k)
	exists := pipe.Exists(ctx, k, j)
	setnx := pipe.SetNX(ctx, k, "5", 0)
	get3 := pipe.Get(ctx, k)
	incrJ := pipe.Incr(ctx, j) // an error in the middle
	incrBy := pipe.IncrBy(ctx, k, 10)
	getset := pipe.Do(ctx, "GETSET", j, "y")
	strlen := pipe.StrLen(ctx, j)
	ping := pipe.Ping(ctx)
	get4 := pipe.Get(ctx, k)
	cmds, _ := pipe.Exec(ctx) // its error is the first command's: GET k's nil
	if len(cmds) != 16 {
		t.Fatalf("%d replies to 16 commands", len(cmds))
	}
	check := func(name string, got any, err error, want any) {
		t.Helper()
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	check("SET k 1", set1.Val(), set1.Err(), "OK")
	check("INCR k", incr.Val(), incr.Err(), 2)
	check("GET k", get1.Val(), get1.Err(), "2")
	check("SET j x", setJ.Val(), setJ.Err(), "OK")
	if v, err := mget.Result(); err != nil || !slices.Equal(v, []any{"2", "x"}) {
		t.Errorf("MGET k j = %#v, %v", v, err)
	}
	check("DEL k", del.Val(), del.Err(), 1)
	wantNil(t, "GET k after DEL", get2.Err())
	check("EXISTS k j", exists.Val(), exists.Err(), 1)
	check("SETNX k 5", setnx.Val(), setnx.Err(), true)
	check("GET k", get3.Val(), get3.Err(), "5")
	wantErr(t, "INCR j", incrJ.Err(), "ERR value is not an integer or out of range")
	check("INCRBY k 10", incrBy.Val(), incrBy.Err(), 15)
	check("GETSET j y", getset.Val(), getset.Err(), "x")
	check("STRLEN j", strlen.Val(), strlen.Err(), 1)
	check("PING", ping.Val(), ping.Err(), "PONG")
	check("GET k", get4.Val(), get4.Err(), "15")
}

func TestPipelineMixedInOrder(t *testing.T) {
	c := newTestCluster(t, 1, Config{})
	cl := c.client(0)
	for i := range 3 {
		checkMixedPipeline(t, cl, fmt.Sprintf("p%d:", i))
	}
}

// TestPipelinedBurstIsBatched checks that a pipelined burst of writes from
// one connection reaches the log as a few batches, not one per write: the
// server hands a run of writes to ProposeBatch as one publication.
func TestPipelinedBurstIsBatched(t *testing.T) {
	c := newTestCluster(t, 1, Config{})
	cl := c.client(0)
	ctx := t.Context()
	// One write first, so that the connection is open and the no-op of the
	// election is behind us.
	if err := cl.Set(ctx, "warm", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	h := c.nodes[0].h
	before := h.Stats().Stages.Batch
	const n = 500
	pipe := cl.Pipeline()
	for i := range n {
		pipe.Set(ctx, fmt.Sprintf("burst:%d", i), i, 0)
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if cmd.(*goredis.StatusCmd).Val() != "OK" {
			t.Fatalf("SET %d: %v", i, cmd)
		}
	}
	after := h.Stats().Stages.Batch
	batches, items := after.Batches-before.Batches, after.Items-before.Items
	if items < n {
		t.Fatalf("the batch stage saw %d proposals for %d writes", items, n)
	}
	// The burst arrives in a few reads (the reader's buffer starts at 16
	// KiB), each read one run: a handful of batches. One batch per write
	// would be 500.
	if batches > n/10 {
		t.Errorf("%d writes of one pipelined burst took %d batches, want far fewer", n, batches)
	}
	t.Logf("%d writes in %d batches", items, batches)
	if got := cl.DBSize(ctx).Val(); got != n+1 {
		t.Errorf("DBSIZE = %d, want %d", got, n+1)
	}
}
