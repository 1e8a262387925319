package consensus

// inflights is the window of appends sent to one follower and not yet
// acknowledged, as a ring of (last index, bytes) in send order. It is full
// at msgsMax appends or bytesMax bytes, whichever comes first.
type inflights struct {
	start, count int
	bytes        uint64
	msgsMax      int
	bytesMax     uint64
	buf          []inflight // grows up to msgsMax
}

type inflight struct {
	index uint64
	bytes uint64
}

func newInflights(msgsMax int, bytesMax uint64) inflights {
	return inflights{msgsMax: msgsMax, bytesMax: bytesMax}
}

func (in *inflights) add(index, bytes uint64) {
	if in.full() {
		fatalf("inflights: add to a full window (%d msgs, %d bytes)", in.count, in.bytes)
	}
	if in.count == len(in.buf) {
		in.grow()
	}
	in.buf[(in.start+in.count)%len(in.buf)] = inflight{index, bytes}
	in.count++
	in.bytes += bytes
}

func (in *inflights) grow() {
	n := min(max(2*len(in.buf), 4), in.msgsMax)
	buf := make([]inflight, n)
	for i := 0; i < in.count; i++ {
		buf[i] = in.buf[(in.start+i)%len(in.buf)]
	}
	in.buf, in.start = buf, 0
}

// freeLE releases every append whose last index is <= index.
func (in *inflights) freeLE(index uint64) {
	for in.count > 0 {
		f := in.buf[in.start]
		if f.index > index {
			return
		}
		in.start = (in.start + 1) % len(in.buf)
		in.count--
		in.bytes -= f.bytes
	}
}

func (in *inflights) full() bool {
	return in.count >= in.msgsMax || in.bytes >= in.bytesMax
}

func (in *inflights) reset() { in.start, in.count, in.bytes = 0, 0, 0 }

func (in *inflights) freeFirst() {
	if in.count > 0 {
		in.freeLE(in.buf[in.start].index)
	}
}
