package stages

import (
	"sync/atomic"
	"time"
)

// SnapshotStats count a host's snapshots since it started, for the
// metrics layer: those it took of its own groups, sent to followers
// behind the log's start, received from leaders, and installed.
type SnapshotStats struct {
	// Taken counts snapshots written whole into the snapshot folder;
	// TakeFailures the captures and writes that failed, and the log
	// compactions after a snapshot that did (such a snapshot counts in
	// both).
	Taken, TakeFailures uint64
	// Sent and SendFailures count the streams to followers by how they
	// ended (as the transport reports), those that could not start
	// counting as failures.
	Sent, SendFailures uint64
	// Received counts streams from a leader extracted into the snapshot
	// folder; ReceiveFailures those refused (corrupt, for an unknown
	// group, or a disk error).
	Received, ReceiveFailures uint64
	// Installed counts snapshots loaded into state machines;
	// InstallFailures those that failed, each of which stops the host.
	Installed, InstallFailures uint64
	// How long writing a snapshot took, extracting a received one, and
	// loading one into its state machine.
	TakeTime, ReceiveTime, InstallTime DurationHistogram
}

type snapshotCounters struct {
	taken, takeFailures                atomic.Uint64
	sent, sendFailures                 atomic.Uint64
	received, receiveFailures          atomic.Uint64
	installed, installFailures         atomic.Uint64
	takeTime, receiveTime, installTime durationCounter
}

func (c *snapshotCounters) snapshot() SnapshotStats {
	return SnapshotStats{
		Taken: c.taken.Load(), TakeFailures: c.takeFailures.Load(),
		Sent: c.sent.Load(), SendFailures: c.sendFailures.Load(),
		Received: c.received.Load(), ReceiveFailures: c.receiveFailures.Load(),
		Installed: c.installed.Load(), InstallFailures: c.installFailures.Load(),
		TakeTime: c.takeTime.load(), ReceiveTime: c.receiveTime.load(), InstallTime: c.installTime.load(),
	}
}

// ended counts one operation that began at start: itself into ok and its
// duration into took, or itself into failed if err is set.
func ended(start time.Time, err error, ok, failed *atomic.Uint64, took *durationCounter) {
	if err != nil {
		failed.Add(1)
		return
	}
	ok.Add(1)
	took.record(time.Since(start))
}
