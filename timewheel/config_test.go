package timewheel

import (
	"errors"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidConfigNamesTheField(t *testing.T) {
	ok := DefaultConfig()
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	for _, c := range []struct {
		cfg   Config
		field string
		msg   string
	}{
		{with(func(c *Config) { c.Tick = 0 }), "tick", "timewheel: tick 0s is outside [1µs, 1h0m0s]"},
		{with(func(c *Config) { c.Tick = -time.Second }), "tick", "timewheel: tick -1s is outside [1µs, 1h0m0s]"},
		{with(func(c *Config) { c.Tick = 2 * time.Hour }), "tick", "timewheel: tick 2h0m0s is outside [1µs, 1h0m0s]"},
		{with(func(c *Config) { c.SlotsPerLevel = 6 }), "slots_per_level", "timewheel: slots_per_level 6 is not a power of two"},
		{with(func(c *Config) { c.SlotsPerLevel = 1 }), "slots_per_level", "timewheel: slots_per_level 1 is outside [2, 65536]"},
		{with(func(c *Config) { c.SlotsPerLevel = 1 << 17 }), "slots_per_level", "timewheel: slots_per_level 131072 is outside [2, 65536]"},
		{with(func(c *Config) { c.Levels = 0 }), "levels", "timewheel: levels 0 is outside [1, 16]"},
		{with(func(c *Config) { c.Levels = 9 }), "levels", "timewheel: levels 9 of slots_per_level 256 cover 72 bits of ticks; at most 64"},
		{Config{}, "tick", "timewheel: tick 0s is outside [1µs, 1h0m0s]"},
	} {
		err := c.cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || err.Error() != c.msg {
			t.Errorf("%+v: Validate() = %v, want field %s: %q", c.cfg, err, c.field, c.msg)
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v does not match ErrInvalidConfig", c.cfg, err)
		}
		if w, err2 := New(c.cfg); w != nil || err2 == nil || err2.Error() != c.msg {
			t.Errorf("%+v: New() = %v, %v; want nil, %q", c.cfg, w, err2, c.msg)
		}
	}
}

func TestLargestShapesWork(t *testing.T) {
	for _, cfg := range []Config{
		{Tick: TickMin, SlotsPerLevel: 2, Levels: LevelsMax},
		{Tick: TickMax, SlotsPerLevel: 1 << 16, Levels: 4}, // all 64 bits
		{Tick: time.Millisecond, SlotsPerLevel: 1 << 16, Levels: 1},
	} {
		w, err := New(cfg)
		if err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
		var at uint64
		w.Schedule(time.Duration(1<<62), func() { at = w.Now() }) // parked
		w.Schedule(70_000*cfg.Tick, func() { at = w.Now() })
		if _, err := w.AdvanceTo(70_000); err != nil || at != 70_000 {
			t.Fatalf("%+v: fired at %d (%v), want 70000", cfg, at, err)
		}
	}
}
