package transport

// TEMPORARY stub until tls.go lands; delete then.

import (
	"crypto/tls"
	"crypto/x509"
)

type TLSFiles struct{ CAFile, CertFile, KeyFile string }
type tlsMaterial struct{}

func loadTLS(f TLSFiles, self uint64) (*tlsMaterial, error) { return nil, nil }
func (m *tlsMaterial) serverConfig() *tls.Config            { return nil }
func (m *tlsMaterial) clientConfig(peer uint64) *tls.Config { return nil }
func peerNodeID(cs tls.ConnectionState) (uint64, error)     { return 0, nil }
func classifyTLSError(err error) error                      { return err }
func NodeIDFromCert(c *x509.Certificate) (uint64, error)    { return 0, nil }
