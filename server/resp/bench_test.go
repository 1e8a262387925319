package resp

import (
	"fmt"
	"io"
	"runtime"
	"testing"
)

// The parse of a pipelined burst, as redis-benchmark -P 16 sends it: 16
// SETs of a 16-byte value, or 16 GETs, arriving in one read. Each
// iteration is one burst; ns/cmd and allocs/cmd divide by the 16. The
// same bursts are measured against redcon in a scratch module (see the
// package doc), since redcon is no dependency of ours.

const benchBurstCmds = 16

// benchBurst is a burst of 16 SET key:00000i <16 bytes> or GET key:00000i.
func benchBurst(cmd string) []byte {
	var b []byte
	for i := range benchBurstCmds {
		key := []byte(fmt.Sprintf("key:%06d", i))
		if cmd == "SET" {
			b = AppendCommand(b, [][]byte{[]byte("SET"), key, []byte("0123456789abcdef")})
		} else {
			b = AppendCommand(b, [][]byte{[]byte("GET"), key})
		}
	}
	return b
}

func BenchmarkReadBatch(b *testing.B) {
	for _, cmd := range []string{"SET", "GET"} {
		b.Run("cmd="+cmd, func(b *testing.B) {
			burst := benchBurst(cmd)
			r := NewReader(&loopReader{data: burst}, Limits{})
			b.SetBytes(int64(len(burst)))
			benchPerCommand(b, func() int {
				cmds, err := r.ReadBatch(0)
				if err != nil {
					b.Fatal(err)
				}
				return len(cmds)
			})
		})
	}
}

// benchPerCommand runs batch, which returns how many commands it read,
// and reports time and allocations per command.
func benchPerCommand(b *testing.B, batch func() int) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cmds := 0
	for b.Loop() {
		cmds += batch()
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(cmds), "ns/cmd")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(cmds), "allocs/cmd")
}

// The replies to the same bursts: 16 +OK, or 16 bulk values, then one
// Flush.
func BenchmarkWriter(b *testing.B) {
	value := []byte("0123456789abcdef")
	for _, reply := range []string{"OK", "bulk"} {
		b.Run("reply="+reply, func(b *testing.B) {
			w := NewWriter(io.Discard)
			benchPerCommand(b, func() int {
				for range benchBurstCmds {
					if reply == "OK" {
						w.SimpleString("OK")
					} else {
						w.Bulk(value)
					}
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
				return benchBurstCmds
			})
		})
	}
}
