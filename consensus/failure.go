package consensus

import (
	"errors"
	"fmt"
)

// ErrFailed wraps the error that stopped a Core: a storage read that
// failed, or input that contradicts what this node knows is committed (a
// corrupt log or a faulty peer). A failed Core refuses every later call
// with the same error; it never guesses its way on.
var ErrFailed = errors.New("consensus: group failed")

// storageFailure and violation unwind from deep inside a step to the entry
// point that recovers them (recoverFailure); threading an error through
// every term lookup would bury the protocol under plumbing.
type storageFailure struct{ err error }

type violation struct{ msg string }

func fatalf(format string, args ...any) {
	panic(violation{fmt.Sprintf(format, args...)})
}

// recoverFailure turns a storageFailure or violation panic into the Core's
// fail-stop error; any other panic is a bug and keeps unwinding.
func (c *Core) recoverFailure(errp *error) {
	r := recover()
	if r == nil {
		return
	}
	switch f := r.(type) {
	case storageFailure:
		c.err = fmt.Errorf("%w: node %d: storage: %w", ErrFailed, c.id, f.err)
	case violation:
		c.err = fmt.Errorf("%w: node %d: %s", ErrFailed, c.id, f.msg)
	default:
		panic(r)
	}
	if errp != nil {
		*errp = c.err
	}
}
