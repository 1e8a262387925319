package workload

import (
	"errors"
	"time"
)

// Retry is how both peer systems write: it calls attempt until it
// succeeds, reports a failure retrying cannot fix (final), or timeout
// passes, pausing between attempts, and returns the number of retries and
// the last error. An attempt that finds no leader returns ErrNoLeader, not final.
func Retry(timeout, pause time.Duration, attempt func() (final bool, err error)) (int, error) {
	deadline := time.Now().Add(timeout)
	for retries := 0; ; retries++ {
		final, err := attempt()
		if err == nil || final || time.Now().After(deadline) {
			return retries, err
		}
		time.Sleep(pause)
	}
}

// ErrNoLeader is what an attempt returns while the group has no leader.
var ErrNoLeader = errors.New("no leader")
