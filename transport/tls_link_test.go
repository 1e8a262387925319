package transport

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tlsCluster starts n transports with mutual TLS from one CA.
func tlsCluster(t *testing.T, n int) ([]*Transport, []*recorder, *testCA) {
	ca := newTestCA(t, "cluster")
	dir := t.TempDir()
	trs, recs := cluster(t, n, func(c *Config) {
		f := writeTLSFiles(t, dir, ca, c.NodeID, certOpts{})
		c.TLS = &f
	})
	return trs, recs, ca
}

// Three TLS transports talk as plaintext ones do, and skip the frame
// checksum that TLS makes redundant.
func TestTLSLoopback(t *testing.T) {
	trs, recs, _ := tlsCluster(t, 3)
	for i, tr := range trs {
		for to := uint64(1); to <= 3; to++ {
			if to != uint64(i+1) {
				tr.Send([]Msg{appMsg(1, uint64(i+1), to, 1, 3, 100), heartbeat(1, uint64(i+1), to, 1)})
			}
		}
	}
	for i, rec := range recs {
		waitFor(t, 10*time.Second, "delivery over TLS", func() bool { return rec.count() == 4 })
		for _, m := range rec.messages() {
			if m.To != uint64(i+1) {
				t.Fatalf("node %d got %v", i+1, m)
			}
		}
	}
	if p := trs[0].peer(2); p.w.checksum {
		t.Fatal("frames on a TLS link are checksummed; TLS already authenticates them")
	}
}

// rawTLSClient connects to addr with the given client certificate, claims
// node claim in its hello, and reads until the connection closes.
func rawTLSClient(t *testing.T, addr string, ca *testCA, certNode uint64, o certOpts, claim uint64) {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, certNode, o)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		return // refused in the handshake itself: that is a close too
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write(helloFrame(1, claim, 2))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the transport kept a refused TLS connection open")
	}
}

// Each TLS failure is refused with its own error kind, the connection is
// closed, and the transport goes on serving its real peers.
func TestTLSRejections(t *testing.T) {
	trs, recs, ca := tlsCluster(t, 2)
	target := trs[1]
	addr := target.Addr().String()
	stranger := newTestCA(t, "stranger")
	cases := []struct {
		name string
		run  func()
		kind ErrorKind
	}{
		{"certificate naming another node", func() { rawTLSClient(t, addr, ca, 3, certOpts{}, 1) }, KindCertNodeMismatch},
		{"unknown CA", func() { rawTLSClient(t, addr, stranger, 1, certOpts{}, 1) }, KindUnknownCA},
		{"expired certificate", func() {
			rawTLSClient(t, addr, ca, 1, certOpts{notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}, 1)
		}, KindCertExpired},
		{"plaintext to a TLS listener", func() { rawExchange(t, addr, helloFrame(1, 1, 2)) }, KindPlaintextRefused},
		{"no node in the certificate", func() { rawTLSClient(t, addr, ca, 1, certOpts{nodeURI: "-"}, 1) }, KindCertNodeMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := target.Stats().Errors[c.kind]
			c.run()
			waitFor(t, 5*time.Second, c.kind.String()+" counted", func() bool { return target.Stats().Errors[c.kind] > before })
		})
	}
	trs[0].Send([]Msg{heartbeat(5, 1, 2, 1)})
	waitFor(t, 5*time.Second, "delivery after the refusals", func() bool { return recs[1].count() > 0 })
}

// A plaintext node dialing a TLS node, and a TLS node dialing a plaintext
// one, both fail with a named error on the side that can tell.
func TestTLSMixedClusterRefused(t *testing.T) {
	ca := newTestCA(t, "cluster")
	f := writeTLSFiles(t, t.TempDir(), ca, 1, certOpts{})
	cfg := testConfig(t, 1, newRecorder())
	cfg.TLS = &f
	secure := startTransport(t, cfg)
	plain := startTransport(t, testConfig(t, 2, newRecorder()))
	secure.AddPeer(2, plain.Addr().String())
	plain.AddPeer(1, secure.Addr().String())
	waitFor(t, 5*time.Second, "both refusals", func() bool {
		return secure.Stats().Errors[KindPlaintextRefused] > 0 && plain.Stats().Errors[KindTLSHandshake] > 0
	})
}
