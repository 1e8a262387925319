// Command latency-floor measures the floor under one replicated write on
// this machine, for the goal "a single client's p50 within 1.5× of one
// fsync plus one loopback round trip, both measured in the same run": the
// p50 of a 64-byte write plus fdatasync into a preallocated file, done
// with the write-ahead log's own file calls (logstore/vfs: fallocate, then
// WriteAt and fdatasync, as a segment is written), and the p50 of a 64-byte
// request and its 64-byte answer between two goroutines over loopback TCP.
// The two alternate in slices of at most 250ms over -duration, so a drift
// of the machine reaches both. A third measurement, beside the floor and
// not in its sum, is the p50 of the same append when three files are
// synced at once, as the three hosts of pipeline-bench and of the peers'
// benchmarks do on one disk. It prints one JSON line:
//
//	{"system":"floor","fsync_p50_us":812.3,"rtt_p50_us":41.2,"sum_p50_us":853.5,"fsync_x3_p50_us":1020.4}
//
// Exit 1 for a failed measurement, 2 for bad flags. Put -dir on the disk
// the benchmarks write to (their default is the temporary directory, as
// this one's).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/raftpipe/raftpipe/logstore/vfs"
)

const (
	// messageBytes is what one write adds to the log and what one append
	// or acknowledgement puts on the wire for a small entry, about: a WAL
	// record of one 16-byte put is a 16-byte header, the entry's framing
	// and the command.
	messageBytes = 64
	// fileBytes is the log's default segment size, preallocated as the
	// log does; a run that fills it starts over at offset 0.
	fileBytes = 64 << 20
	sliceMax  = 250 * time.Millisecond
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type result struct {
	System     string  `json:"system"`
	FsyncP50us float64 `json:"fsync_p50_us"`
	RTTP50us   float64 `json:"rtt_p50_us"`
	SumP50us   float64 `json:"sum_p50_us"`
	Fsync3P50  float64 `json:"fsync_x3_p50_us"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("latency-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", os.TempDir(), "where the synced file goes (removed at exit)")
	duration := fs.Duration("duration", 4*time.Second, "total time, half of it for each measurement")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *duration <= 0 {
		fmt.Fprintf(stderr, "latency-floor: want a positive -duration and no arguments\n")
		return 2
	}
	fsyncs, rtts, fsyncs3, err := measure(*dir, *duration)
	if err != nil {
		fmt.Fprintf(stderr, "latency-floor: %v\n", err)
		return 1
	}
	f, r := percentile(fsyncs, 0.5)/1e3, percentile(rtts, 0.5)/1e3
	fmt.Fprintf(stderr, "latency-floor: %d fdatasyncs (p99 %.0fus), %d round trips (p99 %.0fus)\n",
		len(fsyncs), percentile(fsyncs, 0.99)/1e3, len(rtts), percentile(rtts, 0.99)/1e3)
	b, err := json.Marshal(result{System: "floor", FsyncP50us: round1(f), RTTP50us: round1(r), SumP50us: round1(f + r),
		Fsync3P50: round1(percentile(fsyncs3, 0.5) / 1e3)})
	if err != nil {
		fmt.Fprintf(stderr, "latency-floor: %v\n", err)
		return 1
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		return 1
	}
	return 0
}

// measure alternates the measurements over d (half of it for the floor's
// two, the other half for the third) and returns their latencies in ns,
// sorted.
func measure(dir string, d time.Duration) (fsyncs, rtts, fsyncs3 []int64, err error) {
	tmp, err := os.MkdirTemp(dir, "latency-floor-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(tmp)
	var syncers [3]func() error
	for i := range syncers {
		f, err := vfs.Default.Create(filepath.Join(tmp, fmt.Sprintf("log%d", i)))
		if err != nil {
			return nil, nil, nil, err
		}
		defer f.Close()
		if err := f.Preallocate(fileBytes); err != nil {
			return nil, nil, nil, err
		}
		syncers[i] = appendAndSync(f)
	}
	rtt, closeRTT, err := loopback()
	if err != nil {
		return nil, nil, nil, err
	}
	defer closeRTT()
	per := d / 2
	slice := min(per, sliceMax)
	for done := time.Duration(0); done < per; done += slice {
		if fsyncs, err = timeFor(fsyncs, slice/2, syncers[0]); err != nil {
			return nil, nil, nil, fmt.Errorf("write and fdatasync: %w", err)
		}
		if rtts, err = timeFor(rtts, slice/2, rtt); err != nil {
			return nil, nil, nil, fmt.Errorf("loopback round trip: %w", err)
		}
		if fsyncs3, err = concurrently(fsyncs3, slice, syncers[:]); err != nil {
			return nil, nil, nil, fmt.Errorf("write and fdatasync, three at once: %w", err)
		}
	}
	slices.Sort(fsyncs)
	slices.Sort(rtts)
	slices.Sort(fsyncs3)
	return fsyncs, rtts, fsyncs3, nil
}

// appendAndSync returns one log append into f: a message written after
// the last one, then fdatasync.
func appendAndSync(f vfs.File) func() error {
	buf := make([]byte, messageBytes)
	var off int64
	return func() error {
		if off+messageBytes > fileBytes {
			off = 0
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		off += messageBytes
		return f.Sync()
	}
}

// concurrently runs each op in a goroutine of its own for d, appending
// every call's latency in ns to samples.
func concurrently(samples []int64, d time.Duration, ops []func() error) ([]int64, error) {
	type out struct {
		lat []int64
		err error
	}
	ch := make(chan out, len(ops))
	for _, op := range ops {
		go func() {
			lat, err := timeFor(nil, d, op)
			ch <- out{lat, err}
		}()
	}
	var errs []error
	for range ops {
		o := <-ch
		samples = append(samples, o.lat...)
		errs = append(errs, o.err)
	}
	return samples, errors.Join(errs...)
}

// timeFor calls op until d has passed, at least once, appending each
// call's latency in ns to samples.
func timeFor(samples []int64, d time.Duration, op func() error) ([]int64, error) {
	end := time.Now().Add(d)
	for {
		t0 := time.Now()
		if err := op(); err != nil {
			return samples, err
		}
		t1 := time.Now()
		samples = append(samples, int64(t1.Sub(t0)))
		if !t1.Before(end) {
			return samples, nil
		}
	}
}

// loopback connects a client to an echo goroutine over 127.0.0.1 and
// returns one round trip of a message, and what closes both ends. Go sets
// TCP_NODELAY, as the transport does, so nothing waits for Nagle.
func loopback() (rtt func() error, closeAll func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close() // one connection is all it takes
	echoed := make(chan error, 1)
	accepted := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			echoed <- err
			return
		}
		close(accepted)
		defer conn.Close()
		buf := make([]byte, messageBytes)
		for {
			if _, err := io.ReadFull(conn, buf); err != nil {
				echoed <- nil // the client hung up
				return
			}
			if _, err := conn.Write(buf); err != nil {
				echoed <- err
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		ln.Close() // ends the Accept
		return nil, nil, errors.Join(err, <-echoed)
	}
	// Closing the listener (deferred) while the connection still waits in
	// its backlog would reset it: return only once it is accepted.
	select {
	case <-accepted:
	case err := <-echoed:
		conn.Close()
		return nil, nil, fmt.Errorf("accept: %w", err)
	}
	out, in := make([]byte, messageBytes), make([]byte, messageBytes)
	rtt = func() error {
		if _, err := conn.Write(out); err != nil {
			return err
		}
		_, err := io.ReadFull(conn, in)
		return err
	}
	closeAll = func() {
		conn.Close()
		<-echoed // the echo goroutine is gone before the command returns
	}
	return rtt, closeAll, nil
}

// percentile is the q-quantile of sorted by nearest rank, as the benches
// compute theirs.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := min(max(int(math.Ceil(q*float64(len(sorted)))), 1), len(sorted))
	return float64(sorted[rank-1])
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
