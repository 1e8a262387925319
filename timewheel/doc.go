// Package timewheel owns the host's timers: a hierarchical timing wheel
// (the Kafka/Netty design) that keeps the election and heartbeat timers of
// thousands of Raft groups at O(1) cost per schedule, cancel and fire, and a
// Runner that drives it from the wall clock.
//
// # Time is counted in ticks
//
// A Wheel never reads a clock. It has a current tick, Now, which only
// Advance and AdvanceTo move, as etcd raft's Tick() does for the Raft core;
// a Runner calls AdvanceTo from a ticker in production, and tests advance it
// by hand. A delay is rounded up to whole ticks, and a delay of zero or less
// counts as one tick, so a timer scheduled at tick n with delay d is due at
// tick n + max(1, ceil(d/Tick)), and fires while the wheel advances to that
// tick: never before, never after. Callbacks of one tick run in the order
// their timers were scheduled (Reset counts as scheduling; a periodic timer
// counts as scheduled when it fires).
//
// In wall time, under a Runner, the delay is measured from the start of the
// current tick, not from the instant of the call: a timer may fire up to
// one Tick sooner than its delay after the call, and as late as the runner
// goroutine is. Periodic timers are rescheduled from their due tick, so they
// do not drift.
//
// # Design
//
// Level 0 has SlotsPerLevel buckets of one tick each; each level above has
// as many buckets, each spanning a whole turn of the level below. A timer
// is linked into the bucket of the highest base-SlotsPerLevel digit in
// which its due tick differs from the current tick, so a timer on level l
// shares every digit above l with Now. When a lower level's cursor wraps,
// the current bucket of the level above is cascaded: its timers are linked
// again, one or more levels lower. A timer due beyond the top level's range
// is parked in the top level and re-linked once per turn of the top level
// until it is in range. Buckets are doubly linked lists of nodes in a slab
// owned by the wheel (see slab.go for why not of the Timers themselves), so
// schedule, cancel and fire are a few index writes under one mutex, and
// rescheduling an existing Timer allocates nothing.
//
// Roads not taken: a binary heap (the runtime's timers, container/heap)
// pops in O(log n), a cache miss per level at 100k timers; pushing and
// removing a timer at a random delay cost little more than the wheel does
// (BenchmarkScheduleCancel/heap), so the wheel's gain is in firing and in
// the runtime timers' per-timer cost (afterfunc). A single-level wheel with
// a round counter per timer (Netty's HashedWheelTimer) walks every far
// timer on every turn. Kafka's variant keeps its buckets in a DelayQueue to
// skip idle ticks; Raft hosts are never idle, so the Runner simply ticks,
// and AdvanceTo skips ahead only when no timer is pending.
package timewheel
