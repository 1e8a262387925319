package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/raftpipe/raftpipe"
	"github.com/raftpipe/raftpipe/kv"
	"github.com/raftpipe/raftpipe/metrics"
	"github.com/raftpipe/raftpipe/server/admin"
	"github.com/raftpipe/raftpipe/server/redis"
)

// serve runs the node until ctx ends (SIGTERM, SIGINT) or the host fails.
// Shutdown is graceful: the client and HTTP listeners stop accepting, the
// requests in flight finish (within shutdownTimeout), the groups this node
// leads are handed to another voter, then the host stops
// (the log's final flush) and the Pebble store closes (its flush). A
// SIGKILL loses nothing acknowledged either: an acknowledged write is in
// the fsynced Raft logs of a quorum.
func serve(ctx context.Context, cfg nodeConfig, stderr io.Writer) (err error) {
	log := newLogger(cfg.Log, stderr)
	id, first, err := loadIdentity(&cfg)
	if err != nil {
		return err
	}
	if !first && cfg.InitialCluster != defaultNodeConfig().InitialCluster {
		log.Info("initial-cluster is read only on the first start; the data folder's identity is used", "identity", id.Peers)
	}
	// The store opens first so that it closes last: the host's apply
	// stage writes to it until host.Stop returns.
	store, err := kv.Open(cfg.kvOptions(log))
	if err != nil {
		return err
	}
	var host *raftpipe.Host
	defer func() {
		if host != nil && errors.Is(host.Err(), raftpipe.ErrDiskStall) {
			// Closing flushes Pebble, on the disk that hangs: leave it
			// as a crash would; the Raft log holds what it did not flush.
			log.Error("the store is left unclosed: the disk stalled")
			return
		}
		err = errors.Join(err, store.Close())
	}()
	host, err = raftpipe.NewHost(cfg.hostConfig(id.peers(), log))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, host.Stop()) }()
	svc, err := kv.NewService(ctx, host, store, kv.SingleRegion{Group: 1}, id.Voters)
	if err != nil {
		return err
	}

	reg := metrics.NewRegistry()
	if err := host.RegisterMetrics(reg); err != nil {
		return err
	}
	var idMu sync.Mutex
	adminAPI := admin.Handler(svc, reg, admin.Config{
		BearerToken: cfg.HTTP.BearerToken, Pprof: cfg.HTTP.Pprof, Logger: log,
		AddPeer: func(node uint64, addr string) error {
			idMu.Lock()
			defer idMu.Unlock()
			id.Peers[strconv.FormatUint(node, 10)] = addr
			return id.save(cfg.DataDir)
		},
	})
	httpSrv := &http.Server{Handler: adminAPI, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	httpLn, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("http-listen: %w", err)
	}
	redisCfg := redis.Config{
		MaxBulkBytes: int(cfg.Client.MaxBulkBytes), PipelineDepth: cfg.Client.PipelineDepth, MaxClients: cfg.Client.MaxClients,
		IdleTimeout: cfg.Client.IdleTimeout, RequirePass: cfg.Client.RequirePass, RequestTimeout: cfg.Client.Timeout,
		Registerer: reg, Logger: log,
	}
	if cfg.Client.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Client.TLSCertFile, cfg.Client.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("%w: client.tls-cert-file: %w", errConfig, err)
		}
		redisCfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	redisSrv, err := redis.NewServer(svc, redisCfg)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("%w: client: %w", errConfig, err)
	}
	clientLn, err := net.Listen("tcp", cfg.ClientListen)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("client-listen: %w", err)
	}
	log.Info("pipeline-node serving", "id", cfg.ID, "cluster", cfg.ClusterID, "data_dir", cfg.DataDir, "first_start", first,
		"peer", host.Addr().String(), "client", clientLn.Addr().String(), "http", httpLn.Addr().String())

	errc := make(chan error, 2)
	go func() { errc <- redisSrv.Serve(clientLn) }()
	go func() { errc <- httpSrv.Serve(httpLn) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case <-host.Failed():
		err = fmt.Errorf("the host failed: %w", host.Err())
		log.Error("shutting down", "err", err)
	case err = <-errc:
		log.Error("a listener stopped", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = errors.Join(err, redisSrv.Shutdown(sctx), httpSrv.Shutdown(sctx))
	if host.Err() == nil {
		handOff(host, svc.Router().Groups(), id.peers(), log)
	}
	return err
}

// shutdownTimeout bounds how long requests in flight may take to finish.
const shutdownTimeout = 10 * time.Second

func newLogger(c logConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // validated
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
