package transport

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Transport throughput over loopback beside the raw TCP ceiling, in one
// run: "transport" sends one-entry appends through Send, the writer, the
// kernel, the reader and the inbound ring to a handler; "raw" writes the
// very bytes the transport puts on the wire (the frames of one batch,
// encoded once) with plain net.Conn writes to a reader that discards them.
// Both report wire MB/s; the transport also messages/s and messages per
// write syscall. make bench-transport runs these.

// benchBatch is how many messages the sender hands to one Send, as a
// replicate stage hands over one drain.
const benchBatch = 64

func BenchmarkLoopback(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"entry=16B", 16}, {"entry=1KiB", 1024}} {
		// One entry per append is the worst case; a leader under load
		// sends appends of many entries (the batch stage groups them).
		for _, ents := range []int{1, 16} {
			name := fmt.Sprintf("%s/entries=%d", size.name, ents)
			b.Run(name+"/impl=transport", func(b *testing.B) { benchTransport(b, size.bytes, ents) })
			b.Run(name+"/impl=raw", func(b *testing.B) { benchRaw(b, size.bytes, ents) })
		}
	}
}

// benchMsgs is a batch of appends of ents entries for group 1..benchBatch.
func benchMsgs(size, ents int) []Msg {
	msgs := make([]Msg, benchBatch)
	for i := range msgs {
		msgs[i] = appMsg(uint64(i+1), 1, 2, 10, ents, size)
	}
	return msgs
}

// benchWindowBytes bounds the bytes in flight in the transport benchmark,
// as a leader's inflight limits bound a follower's appends.
const benchWindowBytes = 4 << 20

// benchWire is the bytes the writer produces for one batch.
func benchWire(b *testing.B, msgs []Msg) []byte {
	var w writer
	w.init(1, 2, 64<<20, true)
	for i := range msgs {
		if err := w.add(&msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	var out []byte
	for _, buf := range w.buffers() {
		out = append(out, buf...)
	}
	return out
}

type countingHandler struct {
	recorder
	received atomic.Int64
	window   chan struct{}
	pending  int // owned by the delivery goroutine
}

func (h *countingHandler) HandleMessages(batch []Msg) {
	h.received.Add(int64(len(batch)))
	h.pending += len(batch)
	for ; h.pending >= benchBatch; h.pending -= benchBatch {
		<-h.window
	}
}

func benchTransport(b *testing.B, size, ents int) {
	msgs := benchMsgs(size, ents)
	wire := benchWire(b, msgs)
	// Batches in flight: within the byte window, and within half the send
	// ring, which drops what does not fit.
	window := make(chan struct{}, max(1, min(benchWindowBytes/len(wire), DefaultConfig().SendQueueMessages/benchBatch/2)))
	recv := &countingHandler{window: window}
	recv.unreachable = map[uint64]int{}
	cfg := testConfig(b, 2, recv)
	cfg.Logger = testLogger()
	rt := startTransport(b, cfg)
	st := startTransport(b, testConfig(b, 1, newRecorder()))
	if err := st.AddPeer(2, rt.Addr().String()); err != nil {
		b.Fatal(err)
	}
	// Warm up: the connection is made and the rings are touched.
	window <- struct{}{}
	st.Send(msgs)
	waitFor(b, 10*time.Second, "warm-up", func() bool { return recv.received.Load() == benchBatch })
	before := st.Stats()
	b.SetBytes(int64(len(wire) / benchBatch))
	b.ResetTimer()
	batches := (b.N + benchBatch - 1) / benchBatch
	for range batches {
		window <- struct{}{}
		st.Send(msgs)
	}
	want := int64(benchBatch * (batches + 1))
	waitFor(b, time.Minute, "delivery", func() bool { return recv.received.Load() >= want })
	b.StopTimer()
	s := st.Stats()
	if dropped := s.MessagesDropped - before.MessagesDropped; dropped != 0 {
		b.Fatalf("%d messages dropped", dropped)
	}
	sent := float64(s.MessagesSent - before.MessagesSent)
	b.ReportMetric(sent/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(sent/float64(s.Writes-before.Writes), "msgs/syscall")
}

func benchRaw(b *testing.B, size, ents int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	wire := benchWire(b, benchMsgs(size, ents))
	batches := (b.N + benchBatch - 1) / benchBatch
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		defer c.Close()
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 64<<10))
		done <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wire) / benchBatch))
	b.ResetTimer()
	for range batches {
		if _, err := c.Write(wire); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	n := <-done
	b.StopTimer()
	if n != int64(batches*len(wire)) {
		b.Fatalf("raw reader got %d bytes, want %d", n, batches*len(wire))
	}
	b.ReportMetric(float64(batches*benchBatch)/b.Elapsed().Seconds(), "msgs/s")
}
