// Package ringbuf is the multi-producer, single-consumer ring buffer that
// every raftpipe stage drains, in the style of the LMAX Disruptor.
//
// Producers claim sequences with one atomic add on the cursor, copy their
// items into preallocated slots and publish each slot through its
// availability flag, which holds the published sequence (a lap number
// scaled by the capacity, so no division is needed to check it). The flags
// are the Disruptor's availability buffer, kept beside their items so that
// a publish moves one cache line, not two (see cell). The consumer never
// reads a slot before its producer has published it, however the
// producers' claims and writes interleave.
//
// The consumer's drain loop asks for the longest run of published slots
// starting at its next sequence, copies that run into its batch buffer and
// hands it to the handler as one batch (with an end-of-batch flag when
// nothing more is waiting), then releases the run by advancing the
// consumed sequence once. Batches therefore grow with load and shrink to
// one item when the ring is quiet, with no timer and no size-or-timeout
// knob.
//
// A full ring blocks producers until the consumer releases slots or the
// producer's context ends; TryPublish returns ErrFull instead. A producer
// that gives up after claiming abandons its sequences: they are marked as
// skipped as soon as their slots are free, so the consumer never waits on a
// hole. Close sets a bit on the cursor with one atomic OR, which splits
// every claim into "before the close", drained by the consumer, and "after
// the close", refused with ErrClosed. An item whose Publish returned nil is
// therefore always handed to the handler, unless the handler itself fails.
//
// How each side waits for the other is its WaitStrategy (wait.go). The
// default spins about as long as a park and wake-up cost, then parks; a
// consumer that keeps finding a few items right behind its producers is
// moderated (moderate.go), because reading the cache lines they are still
// filling slows them down more than a short pause costs.
//
// The road not taken: claiming with a compare-and-swap loop (as the
// Disruptor's tryNext does) would make cancellation trivial, because a
// producer never holds a sequence it cannot fill, but every contended claim
// would retry. The atomic add always succeeds in one instruction, and the
// rare abandon path pays for cancellation instead.
package ringbuf
