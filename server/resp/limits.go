package resp

import "fmt"

// Limits bound what one client can make a Reader hold. Each is checked
// before the bytes it covers are read in, so a hostile header costs a
// few bytes, not the memory it claims. A zero field takes its default,
// lowered if need be to fit CommandBytesMax.
type Limits struct {
	// BulkBytesMax bounds one argument: Redis' proto-max-bulk-len.
	BulkBytesMax int
	// ArgsMax bounds the arguments of one command, its name included.
	ArgsMax int
	// InlineBytesMax bounds the line of an inline command, CR LF
	// excluded: Redis' PROTO_INLINE_MAX_SIZE.
	InlineBytesMax int
	// CommandBytesMax bounds one command as sent, headers included, and
	// so the Reader's buffer, which holds a command whole: Redis'
	// client-query-buffer-limit. Keep it above BulkBytesMax by the
	// headers, or the largest bulk cannot arrive.
	CommandBytesMax int
}

// The defaults are Redis' own, so a client that works against Redis is not
// refused here for size. ArgsMax has no Redis counterpart below INT_MAX;
// a million arguments is what Redis preallocates at most for one command.
const (
	DefaultBulkBytesMax    = 512 << 20
	DefaultArgsMax         = 1 << 20
	DefaultInlineBytesMax  = 64 << 10
	DefaultCommandBytesMax = 1 << 30
)

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	if l.CommandBytesMax == 0 {
		l.CommandBytesMax = DefaultCommandBytesMax
	}
	if l.BulkBytesMax == 0 {
		l.BulkBytesMax = min(DefaultBulkBytesMax, l.CommandBytesMax)
	}
	if l.ArgsMax == 0 {
		l.ArgsMax = DefaultArgsMax
	}
	if l.InlineBytesMax == 0 {
		l.InlineBytesMax = min(DefaultInlineBytesMax, l.CommandBytesMax-2)
	}
	return l
}

// minCommandBytes is the least CommandBytesMax that leaves room for a
// command with a short name and argument.
const minCommandBytes = 32

// Validate reports the first bound that is negative or cannot hold, after
// zero fields take their defaults. Call it where the config is loaded:
// NewReader panics on limits that fail it.
func (l Limits) Validate() error {
	if l.CommandBytesMax != 0 && l.CommandBytesMax < minCommandBytes {
		return fmt.Errorf("resp: Limits.CommandBytesMax %d is below %d", l.CommandBytesMax, minCommandBytes)
	}
	l = l.withDefaults()
	for _, f := range []struct {
		name string
		v    int
	}{
		{"BulkBytesMax", l.BulkBytesMax},
		{"ArgsMax", l.ArgsMax},
		{"InlineBytesMax", l.InlineBytesMax},
		{"CommandBytesMax", l.CommandBytesMax},
	} {
		if f.v < 0 {
			return fmt.Errorf("resp: Limits.%s %d is negative", f.name, f.v)
		}
	}
	if l.BulkBytesMax > l.CommandBytesMax {
		return fmt.Errorf("resp: Limits.BulkBytesMax %d exceeds Limits.CommandBytesMax %d", l.BulkBytesMax, l.CommandBytesMax)
	}
	// An inline line travels with its CR LF, and the buffer never
	// outgrows CommandBytesMax.
	if l.InlineBytesMax > l.CommandBytesMax-2 {
		return fmt.Errorf("resp: Limits.InlineBytesMax %d plus CR LF exceeds Limits.CommandBytesMax %d", l.InlineBytesMax, l.CommandBytesMax)
	}
	return nil
}
