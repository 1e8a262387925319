package stages

import "context"

// Proposal is a client's command for a group and where its outcome goes.
type Proposal struct {
	Group uint64
	Cmd   []byte
	Done  *Completion
}

// Outcome is what became of a proposal: the state machine's result, or
// why it was not applied.
type Outcome struct {
	Result []byte
	Err    error
}

// Completion hands one outcome from the stage that knows it to the caller
// waiting for it. Complete is called exactly once; the caller may have
// given up by then, which costs nothing: the outcome waits in a buffer of
// one and is collected with the Completion.
type Completion struct{ ch chan Outcome }

// NewCompletion returns a Completion ready to be completed once.
func NewCompletion() *Completion { return &Completion{ch: make(chan Outcome, 1)} }

// Complete delivers the outcome.
func (c *Completion) Complete(result []byte, err error) { c.ch <- Outcome{Result: result, Err: err} }

// Wait returns the outcome, or ctx's error if ctx ends first.
func (c *Completion) Wait(ctx context.Context) (Outcome, error) {
	select {
	case o := <-c.ch:
		return o, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}
