package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// rawExchange connects to addr as a bare TCP client, writes b and ends its
// side of the stream, and reads
// until the transport closes the connection; it fails the test if the
// transport keeps it open.
func rawExchange(t *testing.T, addr string, b []byte) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite() // the stream ends where b does
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the transport kept the connection open after %q", b)
	}
	return got // a reset after the reject is fine: the close is what counts
}

func helloFrame(cluster, from, to uint64) []byte {
	return appendFrame(nil, frameHello, appendHello(nil, hello{version: ProtocolVersion, cluster: cluster, from: from, to: to, kind: connRaft}), true)
}

// Each bad input is refused with its own error kind, the connection is
// closed, and the transport goes on serving good peers.
func TestBadInputIsRejectedByKind(t *testing.T) {
	trs, recs := cluster(t, 2, func(c *Config) {
		c.MaxFrameBytes = 1 << 20
		c.SnapshotChunkBytes = 256 << 10
	})
	target := trs[1]
	addr := target.Addr().String()
	good := helloFrame(1, 1, 2)

	oversized := func() []byte {
		b := append([]byte(nil), good...)
		b, off := beginFrame(b, frameMessages)
		finishFrame(b, off, true)
		binary.LittleEndian.PutUint32(b[off+8:], 2<<20) // claims 2 MiB, limit 1 MiB
		return b
	}
	badVersion := append([]byte(nil), good...)
	badVersion[2] = ProtocolVersion + 1
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0x40
	truncated := append(append([]byte(nil), good...), appMsgFrame(t, 1, 2)[:40]...)
	wrongVersionHello := appendFrame(nil, frameHello, appendHello(nil, hello{version: 7, cluster: 1, from: 1, to: 2, kind: connRaft}), true)
	bigHello := appendFrame(nil, frameHello, make([]byte, handshakeFrameBytesMax+1), true)

	cases := []struct {
		name       string
		send       []byte
		kind       ErrorKind
		wantReject bool // the peer is told why
	}{
		{"wrong cluster ID", helloFrame(99, 1, 2), KindClusterMismatch, true},
		{"wrong protocol version in the frame", badVersion, KindVersionMismatch, true},
		{"wrong protocol version in the hello", wrongVersionHello, KindVersionMismatch, true},
		{"hello for another node", helloFrame(1, 1, 3), KindWrongNode, true},
		{"oversized frame", oversized(), KindFrameTooLarge, false},
		{"oversized hello", bigHello, KindFrameTooLarge, true},
		{"truncated frame", truncated, KindTruncatedFrame, false},
		{"garbage bytes", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), KindBadMagic, true},
		{"checksum mismatch", badCRC, KindChecksum, true},
		{"messages before the hello", appMsgFrame(t, 1, 2), KindUnexpectedFrame, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := target.Stats().Errors[c.kind]
			got := rawExchange(t, addr, c.send)
			waitFor(t, 5*time.Second, c.kind.String()+" counted", func() bool { return target.Stats().Errors[c.kind] > before })
			if c.wantReject {
				var hdr [frameHeaderBytes]byte
				typ, p, err := readFrame(bytes.NewReader(got), &hdr, frameLimits{maxBytes: 1 << 16}, nil)
				if err != nil || typ != frameReject {
					t.Fatalf("no reject frame came back: %s, %v (%q)", typ, err, got)
				}
				if err := decodeReject(p); !errors.Is(err, ErrRejected) || !bytes.Contains([]byte(err.Error()), []byte(c.kind.String())) {
					t.Fatalf("reject says %v, want it to name %s", err, c.kind)
				}
			}
		})
	}
	// The process is alive and good peers still get through.
	trs[0].Send([]Msg{heartbeat(5, 1, 2, 1)})
	waitFor(t, 5*time.Second, "delivery after the bad inputs", func() bool { return recs[1].count() > 0 })
}

// appMsgFrame is a well-formed messages frame from one node to another.
func appMsgFrame(t *testing.T, from, to uint64) []byte {
	b, off := beginFrame(nil, frameMessages)
	b = appendMessagesHeader(b, from, to)
	m := appMsg(1, from, to, 1, 4, 64)
	b, err := appendMessage(b, &m)
	if err != nil {
		t.Fatal(err)
	}
	finishFrame(b, off, true)
	return b
}

// A dialer in another cluster learns why it was refused: its error wraps
// ErrRejected and names the acceptor's reason, and it keeps retrying.
func TestDialerLearnsRejection(t *testing.T) {
	rec := newRecorder()
	other := testConfig(t, 1, rec)
	other.ClusterID = 2
	stranger := startTransport(t, other)
	host := startTransport(t, testConfig(t, 2, newRecorder()))
	if err := stranger.AddPeer(2, host.Addr().String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rejections", func() bool {
		return stranger.Stats().Errors[KindRejected] > 0 && host.Stats().Errors[KindClusterMismatch] > 0
	})
	_, err := stranger.dial(t.Context(), 2, host.Addr().String(), connRaft)
	if !errors.Is(err, ErrRejected) || !bytes.Contains([]byte(err.Error()), []byte("cluster_mismatch")) {
		t.Fatalf("dial error %v, want a rejection naming cluster_mismatch", err)
	}
	waitFor(t, 5*time.Second, "a peer that refuses us reported unreachable", func() bool { return rec.unreachableCount(2) > 0 })
}

// Messages in a frame addressed to another node are dropped and counted,
// and the connection stays up for the frames after them.
func TestMessagesForAnotherNodeAreDropped(t *testing.T) {
	rec := newRecorder()
	host := startTransport(t, testConfig(t, 2, rec))
	conn, err := net.Dial("tcp", host.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b []byte
	b = append(b, helloFrame(1, 1, 2)...)
	b = append(b, appMsgFrame(t, 1, 3)...) // for node 3
	b = append(b, appMsgFrame(t, 1, 2)...) // for us
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the good frame", func() bool { return rec.count() == 1 })
	s := host.Stats()
	if s.DroppedWrongNode != 1 || s.Errors[KindWrongNode] != 1 {
		t.Fatalf("dropped %d, wrong-node errors %d; want 1 and 1", s.DroppedWrongNode, s.Errors[KindWrongNode])
	}
}
