package ringbuf

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned to producers after Close, and by Run once it
	// has drained everything published before the close.
	ErrClosed = errors.New("ringbuf: closed")
	// ErrFull is returned by TryPublish when the ring has no free slot.
	ErrFull = errors.New("ringbuf: full")
	// ErrBatchTooLarge is returned for a batch larger than the ring, which
	// could never be published.
	ErrBatchTooLarge = errors.New("ringbuf: batch larger than ring capacity")
	// ErrConsumerRunning is returned by a second call to Run: the ring has
	// exactly one consumer.
	ErrConsumerRunning = errors.New("ringbuf: consumer already running")
	// ErrHandlerPanic is matched by the error Run returns when the handler
	// panicked.
	ErrHandlerPanic = errors.New("ringbuf: handler panicked")
)

// PanicError carries a handler panic out of Run as an error. It matches
// ErrHandlerPanic with errors.Is.
type PanicError struct {
	Sequence int64  // first sequence of the batch being handled
	Value    any    // the value passed to panic
	Stack    []byte // the handler goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("ringbuf: handler panicked on batch at sequence %d: %v", e.Sequence, e.Value)
}

// Is reports whether target is ErrHandlerPanic.
func (e *PanicError) Is(target error) bool { return target == ErrHandlerPanic }
