//go:build !linux

package main

import "testing"

// netns: network namespaces are Linux's; elsewhere the partition scenario
// skips.
type netns struct{}

func newNetns(t *testing.T, n int) *netns {
	t.Skip("partitions: network namespaces are Linux's")
	return nil
}

func (*netns) addrs() []nodeAddrs            { return nil }
func (*netns) isolate(t *testing.T, n *node) {}
func (*netns) heal(t *testing.T, n *node)    {}
