package redis

import (
	"fmt"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/raftpipe/raftpipe"
)

// TestAnyNodeAcceptsAnyRequest sends writes and reads to a follower's
// server: writes are forwarded and applied everywhere, linearizable reads
// are forwarded to the leader and see the latest acknowledged write, and
// a READONLY connection reads on the follower itself and still sees it.
func TestAnyNodeAcceptsAnyRequest(t *testing.T) {
	c := newTestCluster(t, 3, Config{})
	ctx := t.Context()
	ld := c.waitLeaderKnown()
	f := c.follower()
	leader, follower := c.client(ld), c.client(f)

	t.Run("writes on a follower", func(t *testing.T) {
		if err := follower.Set(ctx, "fw:a", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := follower.Incr(ctx, "fw:a").Result(); err != nil || n != 2 {
			t.Fatalf("INCR on a follower = %d, %v", n, err)
		}
		if v, err := leader.Get(ctx, "fw:a").Result(); err != nil || v != "2" {
			t.Errorf("GET on the leader = %q, %v; want 2", v, err)
		}
		if v, err := follower.Get(ctx, "fw:a").Result(); err != nil || v != "2" {
			t.Errorf("GET on the follower = %q, %v; want 2", v, err)
		}
		// The write reached every node's state machine.
		for i := range c.nodes {
			conn := c.client(i).Conn()
			if err := conn.ReadOnly(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := conn.Get(ctx, "fw:a").Result(); err != nil || v != "2" {
				t.Errorf("node %d reading locally: %q, %v; want 2", i+1, v, err)
			}
			conn.Close()
		}
	})

	t.Run("linearizable reads on a follower are forwarded", func(t *testing.T) {
		before := c.nodes[ld].h.Stats().Stages.Reads[raftpipe.Linearizable]
		for i := range 30 {
			want := fmt.Sprint(i)
			if err := leader.Set(ctx, "lin:x", want, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := follower.Get(ctx, "lin:x").Result(); err != nil || v != want {
				t.Fatalf("read %d on a follower after an acknowledged write: %q, %v; want %q", i, v, err, want)
			}
		}
		// Each of those reads ran on the leader.
		if served := c.nodes[ld].h.Stats().Stages.Reads[raftpipe.Linearizable] - before; served < 30 {
			t.Errorf("the leader served %d linearizable reads for 30 made on a follower", served)
		}
	})

	t.Run("READONLY reads on the follower", func(t *testing.T) {
		conn := follower.Conn()
		defer conn.Close()
		if v, err := conn.ReadOnly(ctx).Result(); err != nil || v != "OK" {
			t.Fatalf("READONLY = %q, %v", v, err)
		}
		before := c.nodes[f].h.Stats().Stages.Reads[raftpipe.FollowerRead]
		for i := range 30 {
			want := fmt.Sprint(i)
			if err := leader.Set(ctx, "ro:x", want, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if v, err := conn.Get(ctx, "ro:x").Result(); err != nil || v != want {
				t.Fatalf("follower read %d after an acknowledged write: %q, %v; want %q", i, v, err, want)
			}
		}
		if served := c.nodes[f].h.Stats().Stages.Reads[raftpipe.FollowerRead] - before; served < 30 {
			t.Errorf("the follower served %d follower reads for 30 READONLY reads", served)
		}
		// READWRITE goes back to linearizable reads through the leader.
		if err := conn.ReadWrite(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		before = c.nodes[f].h.Stats().Stages.Reads[raftpipe.FollowerRead]
		if v, err := conn.Get(ctx, "ro:x").Result(); err != nil || v != "29" {
			t.Errorf("GET after READWRITE = %q, %v", v, err)
		}
		if n := c.nodes[f].h.Stats().Stages.Reads[raftpipe.FollowerRead] - before; n != 0 {
			t.Errorf("%d follower reads after READWRITE", n)
		}
	})

	t.Run("pipelines on a follower", func(t *testing.T) {
		checkMixedPipeline(t, follower, "fp:")
		conn := follower.Conn()
		defer conn.Close()
		if err := conn.ReadOnly(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// A READONLY connection's pipeline: its writes are forwarded, its
		// reads are follower reads, and each read still sees the writes
		// before it.
		pipe := conn.Pipeline()
		set := pipe.Set(ctx, "fp:ro", "a", 0)
		get := pipe.Get(ctx, "fp:ro")
		incr := pipe.Incr(ctx, "fp:n")
		get2 := pipe.Get(ctx, "fp:n")
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if set.Val() != "OK" || get.Val() != "a" || incr.Val() != 1 || get2.Val() != "1" {
			t.Errorf("READONLY pipeline: %v %v %v %v", set, get, incr, get2)
		}
	})

	t.Run("info replication", func(t *testing.T) {
		st := c.status(ld)
		for i := range c.nodes {
			info, err := c.client(i).Info(ctx, "replication").Result()
			if err != nil {
				t.Fatal(err)
			}
			role := "slave"
			if i == ld {
				role = "master"
			}
			for _, want := range []string{"role:" + role + "\r\n", fmt.Sprintf("group1_leader:%d\r\n", c.nodes[ld].id),
				fmt.Sprintf("group1_term:%d\r\n", st.Term), "group1_commit:", "group1_applied:"} {
				if !strings.Contains(info, want) {
					t.Errorf("node %d INFO replication lacks %q:\n%s", i+1, want, info)
				}
			}
			fields := infoFields(info)
			if fields["group1_commit"] == "0" || fields["group1_applied"] == "0" {
				t.Errorf("node %d: commit %s applied %s after writes", i+1, fields["group1_commit"], fields["group1_applied"])
			}
		}
	})
}

// infoFields parses INFO's name:value lines.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m
}

// noRetry makes go-redis hand back the server's first reply: it retries
// -TRYAGAIN, -LOADING and a few more on its own otherwise.
func noRetry(o *goredis.Options) { o.MaxRetries = -1 }
