package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/BurntSushi/toml"
)

// identity is what a node's data folder says about the node, written on
// its first start: who it is, in which cluster, and where its peers are.
// A restart reads it instead of --initial-cluster, as etcd does, so that a
// node cannot change its ID under its own log, and a stale command line
// cannot rewrite the cluster.
type identity struct {
	ID        uint64            `toml:"id"`
	ClusterID uint64            `toml:"cluster-id"`
	Voters    []uint64          `toml:"voters"` // the voters at first start
	Peers     map[string]string `toml:"peers"`  // node ID → peer address, this node's included
}

const identityFile = "IDENTITY"

// loadIdentity returns the identity of c's data folder, creating it from
// c on the first start. first reports whether it was created now.
func loadIdentity(c *nodeConfig) (id identity, first bool, err error) {
	path := filepath.Join(c.DataDir, identityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		id, err := newIdentity(c)
		if err != nil {
			return identity{}, false, err
		}
		return id, true, id.save(c.DataDir)
	}
	if err != nil {
		return identity{}, false, fmt.Errorf("data-dir: %w", err)
	}
	if _, err := toml.Decode(string(b), &id); err != nil {
		return identity{}, false, fmt.Errorf("data-dir: %s is damaged: %w", path, err)
	}
	switch {
	case id.ID != c.ID:
		return identity{}, false, fmt.Errorf("%w: id: %d, but data-dir %s belongs to node %d", errConfig, c.ID, c.DataDir, id.ID)
	case id.ClusterID != c.ClusterID:
		return identity{}, false, fmt.Errorf("%w: cluster-id: %d, but data-dir %s belongs to cluster %d", errConfig, c.ClusterID, c.DataDir, id.ClusterID)
	}
	return id, false, nil
}

func newIdentity(c *nodeConfig) (identity, error) {
	members, err := parseInitialCluster(c.InitialCluster)
	if err != nil {
		return identity{}, fmt.Errorf("%w: initial-cluster: %w", errConfig, err)
	}
	id := identity{ID: c.ID, ClusterID: c.ClusterID, Peers: map[string]string{}}
	for n, addr := range members {
		id.Voters = append(id.Voters, n)
		id.Peers[strconv.FormatUint(n, 10)] = addr
	}
	slices.Sort(id.Voters)
	if len(members) > 0 && members[c.ID] == "" {
		// A node outside the initial cluster joins one that runs: it
		// starts with no members and waits to be added.
		id.Voters = nil
	}
	return id, nil
}

// peers returns the other nodes' addresses.
func (id identity) peers() map[uint64]string {
	out := map[uint64]string{}
	for k, addr := range id.Peers {
		n, err := strconv.ParseUint(k, 10, 64)
		if err == nil && n != id.ID {
			out[n] = addr
		}
	}
	return out
}

// save writes the identity durably: a temporary file, synced, renamed,
// and the folder synced.
func (id identity) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString("# Written by pipeline-node on its first start: this folder's node. Do not edit.\n")
	if err := toml.NewEncoder(&buf).Encode(id); err != nil {
		return err
	}
	tmp := filepath.Join(dir, identityFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("data-dir: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, identityFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("data-dir: write %s: %w", identityFile, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
