package resp_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/raftpipe/raftpipe/server/resp"
)

// A connection's loop: read what the client has pipelined, answer every
// command of the batch, flush once. A protocol error gets Redis' reply,
// and the connection is closed.
func Example() {
	conn := strings.NewReader("*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nget k\r\n*1\r\n$x\r\n")
	var out bytes.Buffer
	r := resp.NewReader(conn, resp.Limits{})
	w := resp.NewWriter(&out)
	kv := map[string]string{}
	for batch := 1; ; batch++ {
		cmds, err := r.ReadBatch(1024)
		var perr *resp.ProtocolError
		if errors.As(err, &perr) {
			w.Error("ERR", perr.Msg)
			_ = w.Flush()
			break // and close the connection
		}
		if err != nil {
			break // io.EOF: the client has gone
		}
		fmt.Printf("batch %d: %d commands\n", batch, len(cmds))
		for _, c := range cmds {
			switch strings.ToUpper(string(c.Args[0])) {
			case "PING":
				w.SimpleString("PONG")
			case "SET":
				kv[string(c.Args[1])] = string(c.Args[2]) // copies: Args live until the next ReadBatch
				w.SimpleString("OK")
			case "GET":
				if v, ok := kv[string(c.Args[1])]; ok {
					w.BulkString(v)
				} else {
					w.NullBulk()
				}
			default:
				w.Error("ERR", fmt.Sprintf("unknown command '%s'", c.Args[0]))
			}
		}
		if err := w.Flush(); err != nil {
			break
		}
	}
	fmt.Printf("%q\n", out.String())
	// Output:
	// batch 1: 3 commands
	// "+PONG\r\n+OK\r\n$1\r\nv\r\n-ERR Protocol error: invalid bulk length\r\n"
}
