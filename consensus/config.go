package consensus

import "fmt"

// Config holds the tunables of one Core. Zero values take the defaults of
// DefaultConfig, except ID and Storage, which have none.
type Config struct {
	// ID names this node in its group; never 0.
	ID uint64
	// Storage serves the persisted log and state.
	Storage Storage
	// Members is the membership of a brand-new group. It is ignored once
	// storage holds a snapshot, whose membership wins; membership entries
	// in the log are replayed on top either way.
	Members Membership
	// Applied is the index the state machine has already applied, so a
	// restarted node hands out only what follows it.
	Applied uint64

	// ElectionTicks is the election timeout; a follower campaigns after a
	// random timeout in [ElectionTicks, 2*ElectionTicks) without a leader.
	ElectionTicks int
	// HeartbeatTicks is the interval between a leader's heartbeat rounds.
	HeartbeatTicks int
	// LeaseDriftTicks is the clock-drift margin taken off a lease: a lease
	// lasts ElectionTicks-LeaseDriftTicks from the start of the round that
	// a quorum acknowledged. It is at least 1: ticks are counted on
	// different clocks, so a lease of a whole election timeout is never
	// safe.
	LeaseDriftTicks int

	// InflightMsgsMax and InflightBytesMax bound the appends in flight to
	// one follower in replicate state.
	InflightMsgsMax  int
	InflightBytesMax uint64
	// MsgBytesMax and MsgEntriesMax bound the entries of one append; a
	// single entry larger than MsgBytesMax still travels alone.
	MsgBytesMax   uint64
	MsgEntriesMax int
	// UncommittedBytesMax bounds what a leader accepts beyond its commit
	// index; past it, Propose returns ErrUncommittedFull.
	UncommittedBytesMax uint64
	// ApplyBytesMax bounds the committed entries of one Ready.
	ApplyBytesMax uint64

	// Seed feeds the randomized election timeouts; with the same seed,
	// inputs and storage, a Core does the same thing every time.
	Seed uint64
}

// DefaultConfig returns the defaults: 10-tick elections, 1-tick heartbeats,
// a 1-tick drift margin, 256 appends or 16 MiB in flight per follower,
// 1 MiB and 1024 entries per append, 64 MiB uncommitted, 64 MiB per apply
// batch.
func DefaultConfig() Config {
	return Config{
		ElectionTicks:       10,
		HeartbeatTicks:      1,
		LeaseDriftTicks:     1,
		InflightMsgsMax:     256,
		InflightBytesMax:    16 << 20,
		MsgBytesMax:         1 << 20,
		MsgEntriesMax:       1024,
		UncommittedBytesMax: 64 << 20,
		ApplyBytesMax:       64 << 20,
	}
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setU64 := func(v *uint64, def uint64) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.ElectionTicks, d.ElectionTicks)
	setInt(&c.HeartbeatTicks, d.HeartbeatTicks)
	setInt(&c.LeaseDriftTicks, d.LeaseDriftTicks)
	setInt(&c.InflightMsgsMax, d.InflightMsgsMax)
	setU64(&c.InflightBytesMax, d.InflightBytesMax)
	setU64(&c.MsgBytesMax, d.MsgBytesMax)
	setInt(&c.MsgEntriesMax, d.MsgEntriesMax)
	setU64(&c.UncommittedBytesMax, d.UncommittedBytesMax)
	setU64(&c.ApplyBytesMax, d.ApplyBytesMax)
}

// Validate reports the first setting that cannot work, named.
func (c Config) Validate() error {
	c.fillDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.ID == 0:
		return bad("id must not be 0")
	case c.Storage == nil:
		return bad("storage is nil")
	case c.HeartbeatTicks <= 0:
		return bad("heartbeat_ticks %d must be positive", c.HeartbeatTicks)
	case c.ElectionTicks <= c.HeartbeatTicks:
		return bad("election_ticks %d must exceed heartbeat_ticks %d", c.ElectionTicks, c.HeartbeatTicks)
	case c.LeaseDriftTicks < 1 || c.LeaseDriftTicks >= c.ElectionTicks:
		return bad("lease_drift_ticks %d must be in [1, election_ticks %d)", c.LeaseDriftTicks, c.ElectionTicks)
	case c.InflightMsgsMax <= 0:
		return bad("inflight_msgs_max %d must be positive", c.InflightMsgsMax)
	case c.MsgEntriesMax <= 0:
		return bad("msg_entries_max %d must be positive", c.MsgEntriesMax)
	case c.InflightBytesMax < c.MsgBytesMax:
		return bad("inflight_bytes_max %d is below msg_bytes_max %d", c.InflightBytesMax, c.MsgBytesMax)
	}
	return c.Members.validate()
}
