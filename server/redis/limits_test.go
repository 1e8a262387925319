package redis

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestAuth(t *testing.T) {
	c := newTestCluster(t, 1, Config{RequirePass: "s3cret"})
	ctx := t.Context()

	t.Run("commands before AUTH", func(t *testing.T) {
		rc := c.dial(0)
		for _, cmd := range [][]string{{"PING"}, {"GET", "k"}, {"SET", "k", "v"}, {"CLIENT", "ID"}, {"INFO"}} {
			rc.sendCommand(cmd...)
			if got := rc.reply(); got != "-NOAUTH Authentication required." {
				t.Errorf("%v before AUTH: %q, want -NOAUTH", cmd, got)
			}
		}
		rc.sendCommand("AUTH", "wrong")
		if got := rc.reply(); got != "-WRONGPASS invalid username-password pair or user is disabled." {
			t.Errorf("AUTH wrong: %q", got)
		}
		rc.sendCommand("AUTH", "other", "s3cret")
		if got := rc.reply(); !strings.HasPrefix(got, "-WRONGPASS ") {
			t.Errorf("AUTH other s3cret: %q", got)
		}
		rc.sendCommand("GET", "k")
		if got := rc.reply(); !strings.HasPrefix(got, "-NOAUTH ") {
			t.Errorf("GET after failed AUTHs: %q", got)
		}
		rc.sendCommand("AUTH", "default", "s3cret")
		if got := rc.reply(); got != "+OK" {
			t.Fatalf("AUTH default s3cret: %q", got)
		}
		rc.sendCommand("SET", "auth:k", "v")
		rc.sendCommand("GET", "auth:k")
		if a, b := rc.reply(), rc.reply(); a != "+OK" || b != "v" {
			t.Errorf("after AUTH: %q, %q", a, b)
		}
	})

	t.Run("HELLO AUTH", func(t *testing.T) {
		rc := c.dial(0)
		rc.sendCommand("HELLO", "2", "AUTH", "default", "nope")
		if got := rc.reply(); !strings.HasPrefix(got, "-WRONGPASS ") {
			t.Errorf("HELLO 2 AUTH wrong: %q", got)
		}
		rc.sendCommand("HELLO", "2")
		if got := rc.reply(); !strings.HasPrefix(got, "-NOAUTH ") {
			t.Errorf("HELLO 2 unauthenticated: %q", got)
		}
		rc.sendCommand("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "h")
		if got := rc.reply(); !strings.HasPrefix(got, "[server redis ") {
			t.Errorf("HELLO 2 AUTH: %q", got)
		}
		rc.sendCommand("CLIENT", "GETNAME")
		if got := rc.reply(); got != "h" {
			t.Errorf("CLIENT GETNAME after HELLO SETNAME: %q", got)
		}
	})

	t.Run("go-redis", func(t *testing.T) {
		none := c.client(0, noRetry)
		wantErr(t, "PING without a password", none.Ping(ctx).Err(), "NOAUTH Authentication required.")
		wrong := c.client(0, noRetry, func(o *goredis.Options) { o.Password = "nope" })
		if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("PING with a wrong password: %v, want WRONGPASS", err)
		}
		right := c.client(0, func(o *goredis.Options) { o.Password = "s3cret"; o.Protocol = 3 })
		if err := right.Set(ctx, "auth:g", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := right.Incr(ctx, "auth:g").Result(); err != nil || v != 2 {
			t.Errorf("INCR with the password: %d, %v", v, err)
		}
		user := c.client(0, func(o *goredis.Options) { o.Username = "default"; o.Password = "s3cret" })
		if err := user.Ping(ctx).Err(); err != nil {
			t.Errorf("PING as default with the password: %v", err)
		}
	})
}

func TestAuthWithoutPassword(t *testing.T) {
	c := newTestCluster(t, 1, Config{})
	rc := c.dial(0)
	rc.sendCommand("AUTH", "x")
	if got := rc.reply(); !strings.HasPrefix(got, "-ERR AUTH <password> called without any password configured") {
		t.Errorf("AUTH with no password set: %q", got)
	}
	rc.sendCommand("PING")
	if got := rc.reply(); got != "+PONG" {
		t.Errorf("PING: %q", got)
	}
}

func TestMaxClients(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps with the other parallel tests
	c := newTestCluster(t, 1, Config{MaxClients: 2})
	ctx := t.Context()
	a, b := c.dial(0), c.dial(0)
	for _, rc := range []*rawConn{a, b} {
		rc.sendCommand("PING")
		if got := rc.reply(); got != "+PONG" {
			t.Fatalf("PING: %q", got)
		}
	}
	// A third connection is told why, and closed.
	extra := c.dial(0)
	if got := extra.reply(); got != "-ERR max number of clients reached" {
		t.Errorf("the third connection read %q", got)
	}
	extra.expectClosed()

	// A client that speaks first (go-redis sends HELLO at once) still
	// reads the reason, not a reset connection.
	for i := range 20 {
		cl := c.client(0, noRetry, func(o *goredis.Options) { o.PoolSize = 1 })
		err := cl.Ping(ctx).Err()
		if err == nil || !strings.Contains(err.Error(), "max number of clients reached") {
			t.Fatalf("go-redis client %d over the limit: %v, want the server's reason", i, err)
		}
		cl.Close()
	}

	// The two admitted connections work on; closing one admits another.
	b.sendCommand("ECHO", "still")
	if got := b.reply(); got != "still" {
		t.Errorf("ECHO on an admitted connection: %q", got)
	}
	a.nc.Close()
	cl := c.client(0)
	eventually(t, "a new client is admitted once one left", func() (bool, string) {
		err := cl.Ping(ctx).Err()
		return err == nil, fmt.Sprint(err)
	})
}

func TestMaxBulkBytes(t *testing.T) {
	c := newTestCluster(t, 1, Config{MaxBulkBytes: 1024})
	other := c.dial(0)
	other.sendCommand("SET", "mb:k", strings.Repeat("x", 1024)) // at the limit: fine
	if got := other.reply(); got != "+OK" {
		t.Fatalf("SET of 1024 bytes: %q", got)
	}

	rc := c.dial(0)
	rc.sendCommand("SET", "mb:before", "1")
	// The header of an oversized bulk is refused before its payload is
	// read, and the connection is closed after the reply.
	rc.send("*3\r\n$3\r\nSET\r\n$4\r\nmb:k\r\n$1025\r\n" + strings.Repeat("y", 1025) + "\r\n")
	if got := rc.reply(); got != "+OK" {
		t.Errorf("the command before: %q", got)
	}
	if got := rc.reply(); !strings.HasPrefix(got, "-ERR Protocol error: invalid bulk length 1025: exceeds BulkBytesMax 1024") {
		t.Errorf("oversized bulk: %q", got)
	}
	rc.expectClosed()

	// Other connections are unaffected, and the oversized value was not
	// written.
	other.sendCommand("GET", "mb:k")
	if got := other.reply(); got != strings.Repeat("x", 1024) {
		t.Errorf("GET mb:k: %d bytes", len(got))
	}
	// go-redis reads the error even when the value is larger than the
	// sockets' buffers, so that its write outlasts the server's reading:
	// the server drains what follows a protocol error rather than reset
	// the connection under the writer.
	cl := c.client(0, noRetry)
	for _, n := range []int{2000, 4 << 20} {
		if err := cl.Set(t.Context(), "mb:g", strings.Repeat("z", n), 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR Protocol error: invalid bulk length") {
			t.Errorf("go-redis SET of %d bytes: %v, want the protocol error", n, err)
		}
	}
	if v, err := cl.Get(t.Context(), "mb:before").Result(); err != nil || v != "1" {
		t.Errorf("GET mb:before: %q, %v", v, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel() // mostly waiting: overlaps with the other parallel tests
	c := newTestCluster(t, 1, Config{IdleTimeout: 300 * time.Millisecond})
	rc := c.dial(0)
	rc.sendCommand("PING")
	if got := rc.reply(); got != "+PONG" {
		t.Fatalf("PING: %q", got)
	}
	// Silent: closed by the server, without a reply.
	rc.expectClosed()

	// A connection that keeps talking is kept.
	busy := c.dial(0)
	for i := range 15 { // 450 ms in all: longer than the timeout
		busy.sendCommand("ECHO", fmt.Sprint(i))
		if got := busy.reply(); got != fmt.Sprint(i) {
			t.Fatalf("ECHO %d: %q", i, got)
		}
		<-time.After(30 * time.Millisecond)
	}
	// A client stuck halfway through a command is closed too.
	half := c.dial(0)
	half.send("*2\r\n$4\r\nECHO\r\n$5\r\nab")
	half.expectClosed()
}

func TestPipelineDepth(t *testing.T) {
	c := newTestCluster(t, 1, Config{PipelineDepth: 3})
	cl := c.client(0)
	ctx := t.Context()
	for range 2 {
		checkMixedPipeline(t, cl, "pd:")
	}
	pipe := cl.Pipeline()
	const n = 200
	incrs := make([]*goredis.IntCmd, n)
	gets := make([]*goredis.StringCmd, n)
	for i := range n {
		incrs[i] = pipe.Incr(ctx, "pd:n")
		gets[i] = pipe.Get(ctx, "pd:n")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if incrs[i].Val() != int64(i+1) || gets[i].Val() != fmt.Sprint(i+1) {
			t.Fatalf("command pair %d: INCR %v, GET %v", i, incrs[i], gets[i])
		}
	}
	// The same over one raw connection, sent in one write.
	rc := c.dial(0)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "ECHO %d\r\n", i)
	}
	rc.send(b.String())
	for i := range n {
		if got := rc.reply(); got != fmt.Sprint(i) {
			t.Fatalf("reply %d: %q", i, got)
		}
	}
}

// TestProtocol speaks RESP by hand: inline commands, the replies' exact
// bytes, and a malformed request, after which the connection closes.
func TestProtocol(t *testing.T) {
	c := newTestCluster(t, 1, Config{})
	rc := c.dial(0)
	rc.send("PING\r\n")
	if got := rc.reply(); got != "+PONG" {
		t.Errorf("inline PING: %q", got)
	}
	rc.send("SET inline:k \"a b\\r\\n\"\nGET inline:k\r\nEXISTS inline:k inline:k\r\n\r\nDEL inline:k\r\n")
	for _, want := range []string{"+OK", "a b\r\n", ":2", ":1"} {
		if got := rc.reply(); got != want {
			t.Errorf("inline burst: %q, want %q", got, want)
		}
	}
	rc.sendCommand("GET", "inline:k")
	if got := rc.reply(); got != "(nil)" {
		t.Errorf("GET after DEL: %q", got)
	}
	// An empty array is no command at all, as in Redis.
	rc.send("*0\r\n*1\r\n$4\r\nPING\r\n")
	if got := rc.reply(); got != "+PONG" {
		t.Errorf("after *0: %q", got)
	}
	// The exact bytes of a few replies.
	rc.sendCommand("MGET", "inline:absent")
	rc.sendCommand("INCR", "inline:n")
	rc.sendCommand("SET", "inline:n", "x", "EX", "1")
	want := "*1\r\n$-1\r\n:1\r\n-ERR expiry options are not supported: keys do not expire in this service\r\n"
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(rc.r, buf); err != nil || string(buf) != want {
		t.Errorf("replies %q, %v; want %q", buf, err, want)
	}

	for _, bad := range []struct{ req, reply string }{
		{"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'"},
		{"*1\r\n$4\r\nPINGXX\r\n", "-ERR Protocol error: bulk string of 4 bytes not followed by CRLF"},
		{"*-5\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"ECHO \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request"},
	} {
		rc := c.dial(0)
		rc.send(bad.req)
		if strings.HasPrefix(bad.req, "*1\r\n$4\r\nPING\r\n") {
			if got := rc.reply(); got != "+PONG" {
				t.Errorf("%q: the command before the bad one got %q", bad.req, got)
			}
		}
		if got := rc.reply(); got != bad.reply {
			t.Errorf("%q: %q, want %q", bad.req, got, bad.reply)
		}
		rc.expectClosed()
	}

	// QUIT answers OK and closes, ignoring what follows it.
	q := c.dial(0)
	q.send("PING\r\nQUIT\r\nPING\r\n")
	if a, b := q.reply(), q.reply(); a != "+PONG" || b != "+OK" {
		t.Errorf("PING QUIT: %q %q", a, b)
	}
	q.expectClosed()
	// The server goes on.
	ok := c.dial(0)
	ok.send("PING\r\n")
	if got := ok.reply(); got != "+PONG" {
		t.Errorf("PING on a new connection: %q", got)
	}
}
