package redis

import (
	"crypto/subtle"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/server/resp"
)

// The commands a connection answers itself: enough of the connection and
// introspection commands for redis-cli, redis-benchmark and the client
// libraries to connect and run.

// redisVersion is the Redis version this service presents: clients pick
// features by it, and every command served behaves as Redis 7's.
const redisVersion = "7.0.0"

func cmdPing(_ *conn, a [][]byte, out []byte) []byte {
	switch len(a) {
	case 1:
		return resp.AppendSimpleString(out, "PONG")
	case 2:
		return resp.AppendBulk(out, a[1])
	}
	return resp.AppendError(out, "ERR", "wrong number of arguments for 'ping' command")
}

func cmdQuit(c *conn, _ [][]byte, out []byte) []byte {
	c.quit = true
	return ok(out)
}

// cmdAuth is AUTH [username] password; the only user is "default".
func cmdAuth(c *conn, a [][]byte, out []byte) []byte {
	if len(a) > 3 {
		return resp.AppendError(out, "ERR", "syntax error")
	}
	if c.s.cfg.RequirePass == "" {
		return resp.AppendError(out, "ERR", "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	}
	if !c.checkPass(a[1:]) {
		return resp.AppendError(out, "WRONGPASS", "invalid username-password pair or user is disabled.")
	}
	c.authed = true
	return ok(out)
}

// checkPass checks [username] password, in constant time.
func (c *conn) checkPass(a [][]byte) bool {
	user, pass := []byte("default"), a[len(a)-1]
	if len(a) == 2 {
		user = a[0]
	}
	return string(user) == "default" && subtle.ConstantTimeCompare(pass, []byte(c.s.cfg.RequirePass)) == 1
}

// cmdHello is HELLO [protover [AUTH username password] [SETNAME name]].
// Only RESP2 is spoken: HELLO 3 gets -NOPROTO, and clients (go-redis
// among them) carry on in RESP2.
func cmdHello(c *conn, a [][]byte, out []byte) []byte {
	if len(a) > 1 {
		v, err := strconv.Atoi(string(a[1]))
		if err != nil {
			return resp.AppendError(out, "ERR", "Protocol version is not an integer or out of range")
		}
		if v != 2 {
			return resp.AppendError(out, "NOPROTO", "sorry, this protocol version is not supported")
		}
		for i := 2; i < len(a); i++ {
			switch strings.ToUpper(string(a[i])) {
			case "AUTH":
				if i+2 >= len(a) {
					return resp.AppendError(out, "ERR", "syntax error")
				}
				if c.s.cfg.RequirePass != "" && !c.checkPass(a[i+1:i+3]) {
					return resp.AppendError(out, "WRONGPASS", "invalid username-password pair or user is disabled.")
				}
				c.authed = true
				i += 2
			case "SETNAME":
				if i+1 >= len(a) {
					return resp.AppendError(out, "ERR", "syntax error")
				}
				if !validName(a[i+1]) {
					return resp.AppendError(out, "ERR", errBadName)
				}
				c.setSession(string(a[i+1]), c.readonly)
				i++
			default:
				return resp.AppendError(out, "ERR", "syntax error")
			}
		}
	}
	if !c.authed {
		return resp.AppendError(out, "NOAUTH", "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	}
	role := "replica"
	if c.s.leadsAll() {
		role = "master"
	}
	out = resp.AppendArrayHeader(out, 14)
	for _, kv := range [][2]string{{"server", "redis"}, {"version", redisVersion}} {
		out = resp.AppendBulkString(resp.AppendBulkString(out, kv[0]), kv[1])
	}
	out = resp.AppendInt(resp.AppendBulkString(out, "proto"), 2)
	out = resp.AppendInt(resp.AppendBulkString(out, "id"), int64(c.id))
	out = resp.AppendBulkString(resp.AppendBulkString(out, "mode"), "standalone")
	out = resp.AppendBulkString(resp.AppendBulkString(out, "role"), role)
	return resp.AppendArrayHeader(resp.AppendBulkString(out, "modules"), 0)
}

func cmdClient(c *conn, a [][]byte, out []byte) []byte {
	switch sub := strings.ToUpper(string(a[1])); {
	case sub == "SETNAME" && len(a) == 3:
		if !validName(a[2]) {
			return resp.AppendError(out, "ERR", errBadName)
		}
		c.setSession(string(a[2]), c.readonly)
		return ok(out)
	case sub == "GETNAME" && len(a) == 2:
		if c.name == "" {
			return resp.AppendNullBulk(out)
		}
		return resp.AppendBulkString(out, c.name)
	case sub == "ID" && len(a) == 2:
		return resp.AppendInt(out, int64(c.id))
	case sub == "SETINFO" && len(a) == 4:
		return ok(out) // library name and version: accepted, not kept
	case sub == "INFO" && len(a) == 2:
		return resp.AppendBulkString(out, c.describe()+"\n")
	case sub == "LIST":
		return resp.AppendBulkString(out, c.s.describeClients())
	}
	return resp.AppendError(out, "ERR", fmt.Sprintf("unknown subcommand or wrong number of arguments for 'CLIENT|%s'", a[1]))
}

const errBadName = "Client names cannot contain spaces, newlines or special characters."

// validName reports whether name may name a connection: printable ASCII
// without blanks, as Redis' clientSetName requires, so that a name cannot
// break up or forge a line of CLIENT LIST.
func validName(name []byte) bool {
	for _, b := range name {
		if b < '!' || b > '~' {
			return false
		}
	}
	return true
}

// describe is CLIENT INFO's line; any goroutine may call it.
func (c *conn) describe() string {
	c.sessionMu.Lock()
	defer c.sessionMu.Unlock()
	return fmt.Sprintf("id=%d addr=%s name=%s readonly=%t", c.id, c.nc.RemoteAddr(), c.name, c.readonly)
}

func (s *Server) describeClients() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for c := range s.conns {
		b.WriteString(c.describe())
		b.WriteByte('\n')
	}
	return b.String()
}

// cmdCommand answers COMMAND (no documentation: an empty list, which
// redis-cli and the libraries accept), COMMAND COUNT, COMMAND DOCS and
// COMMAND INFO.
func cmdCommand(_ *conn, a [][]byte, out []byte) []byte {
	if len(a) == 1 {
		return resp.AppendArrayHeader(out, 0)
	}
	switch strings.ToUpper(string(a[1])) {
	case "COUNT":
		return resp.AppendInt(out, int64(len(commands)))
	case "DOCS":
		return resp.AppendArrayHeader(out, 0)
	case "INFO":
		out = resp.AppendArrayHeader(out, len(a)-2)
		for range a[2:] {
			out = resp.AppendNullArray(out)
		}
		return out
	}
	return resp.AppendError(out, "ERR", fmt.Sprintf("unknown subcommand '%s'", a[1]))
}

func cmdSelect(_ *conn, a [][]byte, out []byte) []byte {
	if string(a[1]) != "0" {
		return resp.AppendError(out, "ERR", "DB index is out of range")
	}
	return ok(out)
}

// cmdConfig answers CONFIG GET for the parameters of configParams; the
// service's config is its file, not this command's, so the other
// subcommands are refused.
func cmdConfig(_ *conn, a [][]byte, out []byte) []byte {
	if !strings.EqualFold(string(a[1]), "GET") {
		return resp.AppendError(out, "ERR", "CONFIG is not supported: configure pipeline-node through its config file")
	}
	if len(a) < 3 {
		return resp.AppendError(out, "ERR", "wrong number of arguments for 'config|get' command")
	}
	var pairs []string
	for _, p := range configParams {
		for _, pattern := range a[2:] {
			if ok, _ := path.Match(strings.ToLower(string(pattern)), p[0]); ok {
				pairs = append(pairs, p[0], p[1])
				break
			}
		}
	}
	out = resp.AppendArrayHeader(out, len(pairs))
	for _, s := range pairs {
		out = resp.AppendBulkString(out, s)
	}
	return out
}

// configParams answers CONFIG GET for the parameters tools ask about,
// described in Redis' terms: every write is in a replicated, fsynced log
// (redis-benchmark, for one, reads save and appendonly at start, and
// warns when they are missing).
var configParams = [][2]string{
	{"save", ""},
	{"appendonly", "yes"},
	{"appendfsync", "always"},
	{"databases", "1"},
}

// cmdInfo is INFO [section ...]: server and replication, the only ones.
func cmdInfo(c *conn, a [][]byte, out []byte) []byte {
	want := map[string]bool{}
	for _, s := range a[1:] {
		want[strings.ToLower(string(s))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	if all || want["server"] {
		h := c.s.svc.Host()
		fmt.Fprintf(&b, "# Server\r\nredis_version:%s\r\nredis_mode:standalone\r\nserver_name:pipeline-node\r\nnode_id:%d\r\nprocess_id:%d\r\ntcp_port:%s\r\nuptime_in_seconds:%d\r\nconnected_clients:%d\r\n\r\n",
			redisVersion, h.NodeID(), os.Getpid(), c.localPort(), int64(time.Since(c.s.started).Seconds()), c.s.clients.Load())
	}
	if all || want["replication"] {
		b.WriteString(c.s.replicationInfo())
	}
	return resp.AppendBulkString(out, b.String())
}

func (c *conn) localPort() string {
	addr := c.nc.LocalAddr().String()
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// replicationInfo is INFO's replication section: role (master when this
// node leads every group), then each group's leader, term, commit and
// applied index.
func (s *Server) replicationInfo() string {
	var b strings.Builder
	role := "slave"
	if s.leadsAll() {
		role = "master"
	}
	fmt.Fprintf(&b, "# Replication\r\nrole:%s\r\n", role)
	h := s.svc.Host()
	for _, g := range s.svc.Router().Groups() {
		st, err := h.Status(g)
		if err != nil {
			fmt.Fprintf(&b, "group%d_error:%v\r\n", g, err)
			continue
		}
		fmt.Fprintf(&b, "group%d_role:%s\r\ngroup%d_leader:%d\r\ngroup%d_term:%d\r\ngroup%d_commit:%d\r\ngroup%d_applied:%d\r\n",
			g, st.Role, g, st.Leader, g, st.Term, g, st.Commit, g, st.Applied)
	}
	b.WriteString("\r\n")
	return b.String()
}

// leadsAll reports whether this node leads every group of the key space.
func (s *Server) leadsAll() bool {
	for _, g := range s.svc.Router().Groups() {
		st, err := s.svc.Host().Status(g)
		if err != nil || st.Role != raftpipe.Leader {
			return false
		}
	}
	return true
}
