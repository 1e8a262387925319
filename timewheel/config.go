package timewheel

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// Bounds of Config. Each has a reason, not just a limit.
const (
	// TickMin is the finest tick: below it a Runner's ticker cannot keep up
	// and would only burn a core catching up.
	TickMin = time.Microsecond
	// TickMax is the coarsest tick; a coarser wheel is a scheduling bug.
	TickMax = time.Hour
	// SlotsPerLevelMin and SlotsPerLevelMax bound the buckets of a level: a
	// bucket is 24 bytes, so the maximum costs 1.5 MiB a level.
	SlotsPerLevelMin = 2
	SlotsPerLevelMax = 1 << 16
	// LevelsMin and LevelsMax bound the number of levels; more than 64 bits
	// of ticks are refused too (see Validate).
	LevelsMin = 1
	LevelsMax = 16
)

// ErrInvalidConfig is what every Config error matches with errors.Is.
var ErrInvalidConfig = errors.New("timewheel: invalid config")

// ConfigError names the field of Config that is wrong and why.
type ConfigError struct {
	Field  string // snake_case name of the field, e.g. "slots_per_level"
	Value  any    // the value that was refused
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("timewheel: %s %v %s", e.Field, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidConfig) true for every ConfigError.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Config shapes a Wheel. Its range, Tick × SlotsPerLevel^Levels, is how far
// ahead a timer is held without being re-parked; longer delays still fire on
// time, at the cost of one re-link per turn of the top level.
type Config struct {
	// Tick is the duration of one tick: the precision of every timer and the
	// period of a Runner's ticker.
	Tick time.Duration
	// SlotsPerLevel is the number of buckets of each level, a power of two.
	SlotsPerLevel int
	// Levels is the number of levels.
	Levels int
}

// DefaultConfig returns 1ms ticks and 4 levels of 256 slots, a range of
// 2^32 ticks (49 days).
//
// 1ms keeps a timer within 1ms of its delay, small against the tens of
// milliseconds of a LAN heartbeat interval, for one wakeup per millisecond
// of one goroutine per host. Level 0 spans 256ms, so heartbeat timers never
// cascade, and election timeouts of a few seconds cascade once.
func DefaultConfig() Config {
	return Config{Tick: time.Millisecond, SlotsPerLevel: 256, Levels: 4}
}

// Validate reports the first field that is out of bounds, as a
// *ConfigError.
func (c Config) Validate() error {
	switch {
	case c.Tick < TickMin || c.Tick > TickMax:
		return &ConfigError{"tick", c.Tick, fmt.Sprintf("is outside [%v, %v]", TickMin, TickMax)}
	case c.SlotsPerLevel < SlotsPerLevelMin || c.SlotsPerLevel > SlotsPerLevelMax:
		return &ConfigError{"slots_per_level", c.SlotsPerLevel,
			fmt.Sprintf("is outside [%d, %d]", SlotsPerLevelMin, SlotsPerLevelMax)}
	case c.SlotsPerLevel&(c.SlotsPerLevel-1) != 0:
		return &ConfigError{"slots_per_level", c.SlotsPerLevel, "is not a power of two"}
	case c.Levels < LevelsMin || c.Levels > LevelsMax:
		return &ConfigError{"levels", c.Levels, fmt.Sprintf("is outside [%d, %d]", LevelsMin, LevelsMax)}
	case c.Levels*c.slotBits() > 64:
		return &ConfigError{"levels", c.Levels, fmt.Sprintf(
			"of slots_per_level %d cover %d bits of ticks; at most 64",
			c.SlotsPerLevel, c.Levels*c.slotBits())}
	}
	return nil
}

// slotBits is log2(SlotsPerLevel): the width of one level's digit.
func (c Config) slotBits() int { return bits.TrailingZeros(uint(c.SlotsPerLevel)) }

// ticks converts a delay to whole ticks, rounding up, at least one.
func (c Config) ticks(d time.Duration) uint64 {
	if d <= c.Tick {
		return 1
	}
	n := d / c.Tick
	if d%c.Tick != 0 {
		n++
	}
	return uint64(n)
}
