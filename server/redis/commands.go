package redis

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/raftpipe/raftpipe/kv"
	"github.com/raftpipe/raftpipe/server/resp"
)

// kind is how a command is served.
type kind uint8

const (
	kindLocal kind = iota // answered by the connection itself
	kindWrite             // a kv command, replicated
	kindRead              // a kv query
)

// spec is one Redis command.
type spec struct {
	// arity is Redis' arity: the exact number of arguments counting the
	// name when positive, the least when negative.
	arity int
	kind  kind
	// local answers a local command.
	local func(c *conn, args [][]byte, out []byte) []byte
	// build turns a write or read into its kv command or query; an error
	// is the client's reply (a syntax error, say).
	build func(c *conn, args [][]byte) (op, error)
	// reply appends the reply to the command's result.
	reply func(c *conn, o op, res []byte, out []byte) []byte
}

// op is a write or read on its way: the kv command or query, the key that
// routes it, and what its reply needs to know.
type op struct {
	item  []byte
	key   []byte
	flags byte // SET's; for SCAN, whether the scan is complete
}

// commands is every command served, by lower-case name. It is filled in
// init, since some commands (COMMAND COUNT) read it.
var commands map[string]*spec

func init() {
	commands = map[string]*spec{
		"ping":      {arity: -1, local: cmdPing},
		"echo":      {arity: 2, local: func(_ *conn, a [][]byte, out []byte) []byte { return resp.AppendBulk(out, a[1]) }},
		"quit":      {arity: -1, local: cmdQuit},
		"hello":     {arity: -1, local: cmdHello},
		"auth":      {arity: -2, local: cmdAuth},
		"client":    {arity: -2, local: cmdClient},
		"command":   {arity: -1, local: cmdCommand},
		"select":    {arity: 2, local: cmdSelect},
		"config":    {arity: -2, local: cmdConfig},
		"info":      {arity: -1, local: cmdInfo},
		"readonly":  {arity: 1, local: func(c *conn, _ [][]byte, out []byte) []byte { c.setSession(c.name, true); return ok(out) }},
		"readwrite": {arity: 1, local: func(c *conn, _ [][]byte, out []byte) []byte { c.setSession(c.name, false); return ok(out) }},

		"get":    {arity: 2, kind: kindRead, build: buildGet, reply: replyGet},
		"mget":   {arity: -2, kind: kindRead, build: buildMGet, reply: replyMGet},
		"exists": {arity: -2, kind: kindRead, build: buildExists, reply: replyCount},
		"strlen": {arity: 2, kind: kindRead, build: buildStrlen, reply: replyCount},
		"dbsize": {arity: 1, kind: kindRead, build: buildDBSize, reply: replyCount},
		"scan":   {arity: -2, kind: kindRead, build: buildScan, reply: replyScan},

		"set":    {arity: -3, kind: kindWrite, build: buildSet, reply: replySet},
		"setnx":  {arity: 3, kind: kindWrite, build: buildSetNX, reply: replySetNX},
		"getset": {arity: 3, kind: kindWrite, build: buildGetSet, reply: replySet},
		"del":    {arity: -2, kind: kindWrite, build: buildDel, reply: replyDel},
		"mset":   {arity: -3, kind: kindWrite, build: buildMSet, reply: replyOK},
		"incr":   {arity: 2, kind: kindWrite, build: buildIncrBy(1, false), reply: replyIncr},
		"decr":   {arity: 2, kind: kindWrite, build: buildIncrBy(-1, false), reply: replyIncr},
		"incrby": {arity: 3, kind: kindWrite, build: buildIncrBy(1, true), reply: replyIncr},
		"decrby": {arity: 3, kind: kindWrite, build: buildIncrBy(-1, true), reply: replyIncr},
	}
}

// lookup finds the command of args, checking its arity and the session's
// authentication; errReply is set instead when it may not run. name is
// the command's, "" for an unknown one.
func (c *conn) lookup(args [][]byte) (s *spec, name string, errReply []byte) {
	name = strings.ToLower(string(args[0]))
	s = commands[name]
	if s == nil {
		var b strings.Builder
		for _, a := range args[1:min(len(args), 4)] {
			fmt.Fprintf(&b, "'%s' ", truncate(a, 128))
		}
		return nil, "", resp.AppendError(nil, "ERR", fmt.Sprintf("unknown command '%s', with args beginning with: %s", truncate(args[0], 128), b.String()))
	}
	// A known command refused is still counted under its name.
	if !c.authed && name != "auth" && name != "hello" && name != "quit" {
		return nil, name, resp.AppendError(nil, "NOAUTH", "Authentication required.")
	}
	if n := len(args); s.arity > 0 && n != s.arity || s.arity < 0 && n < -s.arity {
		return nil, name, resp.AppendError(nil, "ERR", fmt.Sprintf("wrong number of arguments for '%s' command", name))
	}
	return s, name, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func ok(out []byte) []byte { return resp.AppendSimpleString(out, "OK") }

// errSyntax is Redis' reply to a malformed option list.
var errSyntax = errors.New("syntax error")

// clientError is an error whose text is the reply, prefix included.
type clientError struct{ prefix, msg string }

func (e *clientError) Error() string { return e.prefix + " " + e.msg }

func copyKey(k []byte) []byte { return append([]byte(nil), k...) }

// errCrossGroup refuses a multi-key command whose keys live in different
// groups, in Redis Cluster's words: one command is one Raft command or
// query of one group, so it cannot be atomic across groups.
var errCrossGroup = &clientError{"CROSSSLOT", "Keys in request don't hash to the same slot"}

// oneGroup checks that every stride-th key of keys routes to the group of
// the first (stride 2 skips MSET's values).
func oneGroup(r kv.Router, keys [][]byte, stride int) error {
	g := r.GroupOf(keys[0])
	for i := stride; i < len(keys); i += stride {
		if r.GroupOf(keys[i]) != g {
			return errCrossGroup
		}
	}
	return nil
}

// Reads.

func buildGet(_ *conn, a [][]byte) (op, error) {
	// GET is an MGET of one key: its result says whether the key is there,
	// where a get's says so with an error.
	return op{item: kv.EncodeMGet(nil, a[1]), key: copyKey(a[1])}, nil
}

func replyGet(_ *conn, _ op, res, out []byte) []byte {
	vals, err := kv.DecodeMGetResult(res)
	if err != nil || len(vals) != 1 {
		return appendErr(out, fmt.Errorf("bad get result: %v", err))
	}
	if vals[0] == nil {
		return resp.AppendNullBulk(out)
	}
	return resp.AppendBulk(out, vals[0])
}

func buildMGet(c *conn, a [][]byte) (op, error) {
	if err := oneGroup(c.s.svc.Router(), a[1:], 1); err != nil {
		return op{}, err
	}
	return op{item: kv.EncodeMGet(nil, a[1:]...), key: copyKey(a[1])}, nil
}

func replyMGet(_ *conn, _ op, res, out []byte) []byte {
	vals, err := kv.DecodeMGetResult(res)
	if err != nil {
		return appendErr(out, err)
	}
	out = resp.AppendArrayHeader(out, len(vals))
	for _, v := range vals {
		if v == nil {
			out = resp.AppendNullBulk(out)
		} else {
			out = resp.AppendBulk(out, v)
		}
	}
	return out
}

func buildExists(c *conn, a [][]byte) (op, error) {
	if err := oneGroup(c.s.svc.Router(), a[1:], 1); err != nil {
		return op{}, err
	}
	return op{item: kv.EncodeExists(nil, a[1:]...), key: copyKey(a[1])}, nil
}

func buildStrlen(_ *conn, a [][]byte) (op, error) {
	return op{item: kv.EncodeStrlen(nil, a[1]), key: copyKey(a[1])}, nil
}

func buildDBSize(*conn, [][]byte) (op, error) {
	return op{item: kv.EncodeDBSize(nil)}, nil
}

func replyCount(_ *conn, _ op, res, out []byte) []byte {
	n, err := kv.DecodeCountResult(res)
	if err != nil {
		return appendErr(out, err)
	}
	return resp.AppendInt(out, int64(n))
}

// scanCountDefault is SCAN's COUNT when none is given, as Redis'.
const scanCountDefault = 10

// buildScan reads SCAN cursor [MATCH pattern] [COUNT count] [TYPE type].
func buildScan(c *conn, a [][]byte) (op, error) {
	cursor, err := strconv.ParseUint(string(a[1]), 10, 64)
	if err != nil {
		return op{}, &clientError{"ERR", "invalid cursor"}
	}
	start, ok := c.s.cursors.get(cursor)
	if !ok {
		return op{}, &clientError{"ERR", "invalid cursor: unknown on this node or expired; start again from 0"}
	}
	pattern, count := []byte("*"), scanCountDefault
	for i := 2; i < len(a); i += 2 {
		if i+1 >= len(a) {
			return op{}, errSyntax
		}
		switch strings.ToLower(string(a[i])) {
		case "match":
			pattern = a[i+1]
		case "count":
			n, ok := parseInt(a[i+1])
			if !ok {
				return op{}, errNotInteger
			}
			if n < 1 {
				return op{}, errSyntax
			}
			count = int(min(n, 100_000))
		case "type":
			if !strings.EqualFold(string(a[i+1]), "string") {
				pattern = nil // only strings are stored: no key is of another type
			}
		default:
			return op{}, errSyntax
		}
	}
	if pattern == nil {
		return op{item: kv.EncodeScanKeys(nil, []byte{0xff}, []byte{0xff}, 1, []byte("*")), flags: 1}, nil
	}
	return op{item: kv.EncodeScanKeys(nil, start, nil, count, pattern)}, nil
}

func replyScan(c *conn, o op, res, out []byte) []byte {
	keys, next, more, err := kv.DecodeScanKeysResult(res)
	if err != nil {
		return appendErr(out, err)
	}
	if o.flags == 1 { // TYPE of no stored kind
		keys, more = nil, false
	}
	cursor := uint64(0)
	if more {
		cursor = c.s.cursors.put(next)
	}
	out = resp.AppendArrayHeader(out, 2)
	out = resp.AppendBulkString(out, strconv.FormatUint(cursor, 10))
	out = resp.AppendArrayHeader(out, len(keys))
	for _, k := range keys {
		out = resp.AppendBulk(out, k)
	}
	return out
}

// Writes.

// buildSet reads SET key value [NX | XX] [GET]; expiry options are
// refused: keys do not expire in this service.
func buildSet(_ *conn, a [][]byte) (op, error) {
	var flags byte
	for _, opt := range a[3:] {
		switch strings.ToUpper(string(opt)) {
		case "NX":
			flags |= kv.SetNX
		case "XX":
			flags |= kv.SetXX
		case "GET":
			flags |= kv.SetGet
		case "EX", "PX", "EXAT", "PXAT", "KEEPTTL":
			return op{}, &clientError{"ERR", "expiry options are not supported: keys do not expire in this service"}
		default:
			return op{}, errSyntax
		}
	}
	if flags&(kv.SetNX|kv.SetXX) == kv.SetNX|kv.SetXX {
		return op{}, errSyntax
	}
	return op{item: kv.EncodeSet(nil, a[1], a[2], flags), key: copyKey(a[1]), flags: flags}, nil
}

func buildSetNX(_ *conn, a [][]byte) (op, error) {
	return op{item: kv.EncodeSet(nil, a[1], a[2], kv.SetNX), key: copyKey(a[1]), flags: kv.SetNX}, nil
}

func buildGetSet(_ *conn, a [][]byte) (op, error) {
	return op{item: kv.EncodeSet(nil, a[1], a[2], kv.SetGet), key: copyKey(a[1]), flags: kv.SetGet}, nil
}

// replySet answers SET as Redis does: with GET, the old value or nil;
// otherwise OK, or nil when NX or XX prevented the write.
func replySet(_ *conn, o op, res, out []byte) []byte {
	r, err := kv.DecodeSetResult(res)
	if err != nil {
		return appendResultErr(out, res, err)
	}
	switch {
	case o.flags&kv.SetGet != 0 && r.HadOld:
		return resp.AppendBulk(out, r.Old)
	case o.flags&kv.SetGet != 0, !r.Written:
		return resp.AppendNullBulk(out)
	}
	return ok(out)
}

func replySetNX(_ *conn, _ op, res, out []byte) []byte {
	r, err := kv.DecodeSetResult(res)
	if err != nil {
		return appendResultErr(out, res, err)
	}
	if r.Written {
		return resp.AppendInt(out, 1)
	}
	return resp.AppendInt(out, 0)
}

func buildDel(c *conn, a [][]byte) (op, error) {
	if err := oneGroup(c.s.svc.Router(), a[1:], 1); err != nil {
		return op{}, err
	}
	return op{item: kv.EncodeDeleteKeys(nil, a[1:]...), key: copyKey(a[1])}, nil
}

func replyDel(_ *conn, _ op, res, out []byte) []byte {
	n, err := kv.DecodeDeleteResult(res)
	if err != nil {
		return appendResultErr(out, res, err)
	}
	return resp.AppendInt(out, int64(n))
}

func buildMSet(c *conn, a [][]byte) (op, error) {
	if len(a)%2 != 1 {
		return op{}, &clientError{"ERR", "wrong number of arguments for 'mset' command"}
	}
	if err := oneGroup(c.s.svc.Router(), a[1:], 2); err != nil {
		return op{}, err
	}
	puts := make([][]byte, 0, len(a)/2)
	for i := 1; i < len(a); i += 2 {
		puts = append(puts, kv.EncodePut(nil, a[i], a[i+1]))
	}
	return op{item: kv.EncodeBatch(nil, puts...), key: copyKey(a[1])}, nil
}

func replyOK(_ *conn, _ op, res, out []byte) []byte {
	if len(res) == 0 || res[0] != kv.StatusOK {
		return appendResultErr(out, res, errors.New("refused"))
	}
	return ok(out)
}

var errNotInteger = &clientError{"ERR", "value is not an integer or out of range"}

// parseInt parses an integer argument as Redis' string2ll does: exactly
// the form strconv.FormatInt writes, so no '+', no blank, no leading
// zero and no "-0". strconv.ParseInt alone takes "+5" and "05", which
// Redis refuses.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	var buf [20]byte
	return n, string(strconv.AppendInt(buf[:0], n, 10)) == string(b)
}

// buildIncrBy builds INCR, DECR (sign, no argument) and INCRBY, DECRBY
// (sign times the argument).
func buildIncrBy(sign int64, withArg bool) func(*conn, [][]byte) (op, error) {
	return func(_ *conn, a [][]byte) (op, error) {
		delta := sign
		if withArg {
			n, ok := parseInt(a[2])
			if !ok {
				return op{}, errNotInteger
			}
			if sign < 0 {
				if n == math.MinInt64 {
					return op{}, &clientError{"ERR", "decrement would overflow"}
				}
				n = -n
			}
			delta = n
		}
		return op{item: kv.EncodeIncrBy(nil, a[1], delta), key: copyKey(a[1])}, nil
	}
}

func replyIncr(_ *conn, _ op, res, out []byte) []byte {
	n, err := kv.DecodeIncrByResult(res)
	if err != nil {
		if errors.Is(err, kv.ErrNotInteger) || errors.Is(err, kv.ErrOverflow) {
			return resp.AppendError(out, "ERR", err.Error())
		}
		return appendResultErr(out, res, err)
	}
	return resp.AppendInt(out, n)
}

// appendResultErr answers a command the state machine refused, with its
// reason when the result carries one.
func appendResultErr(out, res []byte, err error) []byte {
	if len(res) > 1 && res[0] == kv.StatusBadCommand {
		return resp.AppendError(out, "ERR", string(bytes.TrimSpace(res[1:])))
	}
	return resp.AppendError(out, "ERR", err.Error())
}
