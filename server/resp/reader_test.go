package resp

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

// setBurst is a pipelined burst as redis-benchmark -P n sends it.
func setBurst(n int) (string, []string) {
	var b strings.Builder
	var want []string
	for i := range n {
		k := "key:" + strings.Repeat("0", 11) + string(rune('0'+i%10))
		b.WriteString(req("SET", k, "xxx"))
		want = append(want, "SET "+k+" xxx")
	}
	return b.String(), want
}

func TestPipelinedBurstIsOneBatchFromOneRead(t *testing.T) {
	burst, want := setBurst(16)
	src := &chunkReader{data: []byte(burst), sizes: []int{len(burst)}}
	r := NewReader(src, Limits{})
	cmds, err := r.ReadBatch(0)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(cmds))
	for i, c := range cmds {
		got[i] = join(c)
	}
	if !slices.Equal(got, want) || src.reads != 1 {
		t.Fatalf("one read of a 16-command burst gave %d commands in %d reads:\n%q", len(cmds), src.reads, got)
	}
}

func TestBatchMaxLeavesTheRestBufferedWithoutReading(t *testing.T) {
	burst, want := setBurst(16)
	src := &chunkReader{data: []byte(burst), sizes: []int{len(burst)}}
	r := NewReader(src, Limits{})
	var got []string
	var sizes []int
	for len(got) < 16 {
		cmds, err := r.ReadBatch(5)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(cmds))
		for _, c := range cmds {
			got = append(got, join(c))
		}
		if len(got) < 16 && r.Buffered() == 0 {
			t.Fatalf("after %d commands, Buffered() = 0", len(got))
		}
	}
	if !slices.Equal(got, want) || !slices.Equal(sizes, []int{5, 5, 5, 1}) || src.reads != 1 {
		t.Fatalf("batches %v from %d reads, commands %q", sizes, src.reads, got)
	}
	if r.Buffered() != 0 {
		t.Fatalf("Buffered() = %d after the whole burst", r.Buffered())
	}
}

func TestReadBlocksOnlyForTheFirstCommand(t *testing.T) {
	// The first read brings two whole commands and half a third: the
	// batch is the two, without waiting for the third.
	stream := req("SET", "a", "1") + req("SET", "b", "2") + req("SET", "c", "3")
	cut := len(req("SET", "a", "1")+req("SET", "b", "2")) + 7
	src := &chunkReader{data: []byte(stream), sizes: []int{cut, len(stream)}}
	r := NewReader(src, Limits{})
	cmds, err := r.ReadBatch(0)
	if err != nil || len(cmds) != 2 || src.reads != 1 {
		t.Fatalf("first batch: %d commands, %d reads, err %v; want 2 commands from 1 read", len(cmds), src.reads, err)
	}
	cmds, err = r.ReadBatch(0)
	if err != nil || len(cmds) != 1 || join(cmds[0]) != "SET c 3" {
		t.Fatalf("second batch: %d commands, err %v", len(cmds), err)
	}
}

// mixedStream holds every shape the Reader accepts: redis-cli and client
// library requests, redis-benchmark bursts, inline lines ending in LF or
// CR LF, blank lines, empty arrays, empty and binary arguments, and a
// bulk larger than the Reader's starting buffer.
func mixedStream() (string, []string) {
	big := strings.Repeat("v", 300)
	bin := "a\r\nb\x00c$*"
	parts := []struct{ wire, want string }{
		{req("COMMAND", "DOCS"), "COMMAND DOCS"},
		{req("hello", "3"), "hello 3"},
		{req("client", "setinfo", "LIB-NAME", "go-redis(,go1.26.8)"), "client setinfo LIB-NAME go-redis(,go1.26.8)"},
		{"PING\r\n", "PING"},
		{"\r\n\n  \t\r\n", ""},
		{"*0\r\n*-1\r\n", ""},
		{"set  k   \"a b\\n\"\n", "set k a b\n"},
		{req("SET", "key:000000000042", big), "SET key:000000000042 " + big},
		{req("SET", "", bin), "SET  " + bin},
		{"get 'it\\'s'\r\n", "get it's"},
		{req("GET", "key:000000000042"), "GET key:000000000042"},
	}
	var b strings.Builder
	var want []string
	for _, p := range parts {
		b.WriteString(p.wire)
		if p.want != "" {
			want = append(want, p.want)
		}
	}
	return b.String(), want
}

func TestCommandsSplitAcrossReadsAtEveryByte(t *testing.T) {
	stream, want := mixedStream()
	check := func(name string, src io.Reader, max int) {
		t.Helper()
		r := newReaderSize(src, Limits{}, 64)
		got, err := readAll(r, max)
		if err != io.EOF || !slices.Equal(got, want) {
			t.Fatalf("%s: got %q, %v\nwant %q, EOF", name, got, err, want)
		}
	}
	for cut := 0; cut <= len(stream); cut++ {
		check("cut at "+strconv.Itoa(cut), &chunkReader{data: []byte(stream), sizes: []int{cut, len(stream)}}, 0)
	}
	check("one byte a read", iotest.OneByteReader(strings.NewReader(stream)), 0)
	check("one byte a read, one command a batch", iotest.OneByteReader(strings.NewReader(stream)), 1)
	check("half of what is asked a read", iotest.HalfReader(strings.NewReader(stream)), 3)
	check("EOF with the last bytes", iotest.DataErrReader(strings.NewReader(stream)), 0)
	for size := 2; size < 40; size++ {
		check("reads of "+strconv.Itoa(size), &chunkReader{data: []byte(stream), sizes: []int{size}}, 2)
	}
}

func TestEndOfStream(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"at a command boundary", req("PING"), io.EOF},
		{"inside a bulk payload", req("PING")[:10], io.ErrUnexpectedEOF},
		{"inside a header", "*2\r\n$3", io.ErrUnexpectedEOF},
		{"inside an inline line", "PIN", io.ErrUnexpectedEOF},
		{"before anything", "", io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in), Limits{})
			if _, err := readAll(r, 0); err != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			r = NewReader(strings.NewReader(tc.in), Limits{})
			for err := error(nil); err == nil; {
				var c Command
				if c, err = r.ReadCommand(); err == nil && len(c.Args) == 0 {
					t.Fatal("ReadCommand returned an empty command")
				} else if err != nil && err != tc.want {
					t.Fatalf("ReadCommand: got %v, want %v", err, tc.want)
				}
			}
		})
	}
}

func TestReadErrorIsReturnedOnceAndReadingGoesOn(t *testing.T) {
	// TimeoutReader fails its second read only, as a deadline that the
	// caller then extends.
	stream := req("SET", "a", "1") + req("GET", "a")
	r := NewReader(iotest.TimeoutReader(iotest.HalfReader(strings.NewReader(stream))), Limits{})
	var got []string
	var errs []error
	for {
		cmds, err := r.ReadBatch(0)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err)
			if len(errs) > 1 {
				t.Fatalf("errors %v", errs)
			}
			continue
		}
		for _, c := range cmds {
			got = append(got, join(c))
		}
	}
	if !slices.Equal(got, []string{"SET a 1", "GET a"}) || len(errs) != 1 || errs[0] != iotest.ErrTimeout {
		t.Fatalf("got %q with errors %v, want both commands and one ErrTimeout", got, errs)
	}
}

func TestArgumentsAliasTheReadBufferAndCannotOverwriteEachOther(t *testing.T) {
	r := NewReader(strings.NewReader(req("SET", "key", "value")), Limits{})
	c, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(r.buf, []byte("value"))
	if i < 0 || unsafe.SliceData(c.Args[2]) != &r.buf[i] {
		t.Fatal("the payload was copied out of the read buffer")
	}
	_ = append(c.Args[1], "XXXX"...)
	if string(c.Args[2]) != "value" {
		t.Fatalf("appending to Args[1] overwrote Args[2]: %q", c.Args[2])
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	burst, _ := setBurst(16)
	r := NewReader(&loopReader{data: []byte(burst)}, Limits{})
	for range 3 { // grow the reused slices
		if _, err := r.ReadBatch(0); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if cmds, err := r.ReadBatch(0); err != nil || len(cmds) != 16 {
			t.Fatalf("%d commands, %v", len(cmds), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of 16 SETs, want 0", allocs)
	}
}

func TestBufferGrowsForALargeCommandAndShrinksBack(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	small, _ := setBurst(4)
	stream := req("SET", "big", big) + strings.Repeat(small, 2*shrinkEveryBatches)
	r := NewReader(iotest.HalfReader(strings.NewReader(stream)), Limits{})
	c, err := r.ReadCommand()
	if err != nil || len(c.Args) != 3 || string(c.Args[2]) != big {
		t.Fatalf("large command: %d args, %v", len(c.Args), err)
	}
	if len(r.buf) < 1<<20 {
		t.Fatalf("buffer of %d bytes holds a 1 MiB argument", len(r.buf))
	}
	if _, err := readAll(r, 4); err != io.EOF {
		t.Fatal(err)
	}
	if len(r.buf) > initialBufferBytes {
		t.Fatalf("buffer still %d bytes after %d small batches", len(r.buf), 2*shrinkEveryBatches)
	}
}

func TestLargeBulkIsReadIntoABufferOfItsSize(t *testing.T) {
	// Doubling from 16 KiB would overshoot to 2 MiB; the header says
	// exactly how much the command needs.
	stream := req("SET", "k", strings.Repeat("x", 1<<20+1))
	r := NewReader(strings.NewReader(stream), Limits{})
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != len(stream) {
		t.Fatalf("buffer of %d bytes for a command of %d", len(r.buf), len(stream))
	}
}

func TestErrorFollowsTheCommandsBeforeIt(t *testing.T) {
	r := NewReader(strings.NewReader(req("PING")+req("GET", "a")+"*1\r\n$x\r\n"), Limits{})
	cmds, err := r.ReadBatch(0)
	if err != nil || len(cmds) != 2 {
		t.Fatalf("got %d commands, %v; want the 2 before the bad one", len(cmds), err)
	}
	for range 2 { // and it sticks
		cmds, err = r.ReadBatch(0)
		if pe := protocolError(t, err); len(cmds) != 0 || pe.Msg != "Protocol error: invalid bulk length" {
			t.Fatalf("got %d commands, %v", len(cmds), err)
		}
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("%v does not wrap ErrMalformed", err)
	}
}

func TestReaderThatMakesNoProgress(t *testing.T) {
	r := NewReader(emptyReader{}, Limits{})
	if _, err := r.ReadBatch(0); err != io.ErrNoProgress {
		t.Fatalf("got %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderReturningAnImpossibleCount(t *testing.T) {
	r := NewReader(liarReader{}, Limits{})
	if _, err := r.ReadBatch(0); err == nil || !strings.Contains(err.Error(), "impossible count") {
		t.Fatalf("got %v", err)
	}
}

// liarReader claims more bytes than it was given room for.
type liarReader struct{}

func (liarReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestRoomForManyArgumentsIsGivenBack(t *testing.T) {
	many := make([]string, 10000)
	for i := range many {
		many[i] = "a"
	}
	small, _ := setBurst(1)
	stream := req(many...) + strings.Repeat(small, 2*shrinkEveryBatches)
	r := NewReader(strings.NewReader(stream), Limits{})
	c, err := r.ReadCommand()
	if err != nil || len(c.Args) != len(many) {
		t.Fatalf("%d arguments, %v", len(c.Args), err)
	}
	if _, err := readAll(r, 1); err != io.EOF {
		t.Fatal(err)
	}
	if cap(r.spans) > keepArgs || cap(r.args) > keepArgs {
		t.Fatalf("still room for %d spans and %d args", cap(r.spans), cap(r.args))
	}
}
