package raftpipe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/raftpipe/raftpipe/consensus"
	"github.com/raftpipe/raftpipe/fsm"
	"github.com/raftpipe/raftpipe/logstore"
	"github.com/raftpipe/raftpipe/logstore/vfs"
	"github.com/raftpipe/raftpipe/stages"
	"github.com/raftpipe/raftpipe/timewheel"
	"github.com/raftpipe/raftpipe/transport"
)

// Host runs the Raft groups of one node: one write-ahead log, one peer
// transport and one pipeline shared by all of them, and the timing wheel
// that ticks their clocks.
type Host struct {
	cfg    Config
	log    *slog.Logger
	clock  timewheel.Clock
	store  *logstore.Store
	tr     *transport.Transport
	engine *stages.Engine
	runner *timewheel.Runner

	lastTick atomic.Int64 // when the last tick was delivered, ns since the ticks started

	handler *hostHandler // the transport's Handler: HandleForwarded installs into it

	stopOnce sync.Once
	stopErr  error
	stopping chan struct{} // closed when Stop begins
	watcher  sync.WaitGroup
}

// hostOptions are what tests change beside the Config: the clock leases
// and ticks follow, and the file system under the log.
type hostOptions struct {
	clock timewheel.Clock
	walFS vfs.FS
}

// NewHost opens the log in cfg.DataDir, listens for peers and starts the
// pipeline. Groups are started with StartGroup.
func NewHost(cfg Config) (*Host, error) { return newHost(cfg, hostOptions{}) }

func newHost(cfg Config, opts hostOptions) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if opts.clock == nil {
		opts.clock = timewheel.SystemClock{}
	}
	h := &Host{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID), clock: opts.clock, stopping: make(chan struct{})}
	walOpts := cfg.WAL
	walOpts.FS = opts.walFS
	var err error
	if h.store, err = logstore.Open(walOpts); err != nil {
		return nil, fmt.Errorf("raftpipe: open the log: %w", err)
	}
	handler := &hostHandler{}
	h.handler = handler
	tc := cfg.Transport
	tc.Handler = handler
	if h.tr, err = transport.New(tc); err != nil {
		h.store.Close()
		return nil, fmt.Errorf("raftpipe: start the transport: %w", err)
	}
	if h.engine, err = stages.NewEngine(cfg.engineConfig(h.store, h.tr, opts.clock)); err != nil {
		h.tr.Close()
		h.store.Close()
		return nil, err
	}
	handler.e.Store(h.engine)
	h.engine.Start()
	if err := h.startTicks(); err != nil {
		h.engine.Stop()
		h.tr.Close()
		h.store.Close()
		return nil, err
	}
	h.watcher.Go(h.failStop)
	return h, nil
}

// failStop stops the host when a stage fails (a log write that could not
// be synced, a state machine error): a node that can no longer persist or
// apply must not go on leading or voting, and its waiting callers must not
// wait for their deadlines. Err keeps the cause.
func (h *Host) failStop() {
	select {
	case <-h.engine.Failed():
		h.log.Error("a pipeline stage failed; stopping the host", "err", h.engine.Err())
		go h.Stop() // Stop waits for this goroutine
	case <-h.stopping:
	}
}

// startTicks ticks every group's clock each TickInterval from the timing
// wheel.
//
// A tick arriving less than 0.9 TickInterval after the last one is
// dropped: the wheel catches up ticks it ran late for in a burst, and a
// burst would let a follower's election timeout pass in less time than
// its ticks say, which the leader's lease counts on (Config.Validate
// derives the least drift margin from this bound).
func (h *Host) startTicks() error {
	wcfg := timewheel.DefaultConfig()
	// The Raft tick is the wheel's only timer: a finer wheel only woke
	// the runner ten times as often (an idle 3-node cluster spent 18-32%
	// more CPU with a 1 ms wheel under 10 ms ticks).
	wcfg.Tick = h.cfg.TickInterval
	wheel, err := timewheel.New(wcfg)
	if err != nil {
		return err
	}
	gap := (h.cfg.TickInterval * 9 / 10).Nanoseconds()
	// Measured on the monotonic clock (Sub), as leases are: a wall clock
	// stepped back would stop the ticks for as long.
	epoch := h.clock.Now()
	h.lastTick.Store(0)
	wheel.Every(h.cfg.TickInterval, func() {
		now := int64(h.clock.Now().Sub(epoch))
		if now-h.lastTick.Load() < gap {
			return
		}
		h.lastTick.Store(now)
		h.engine.Tick()
	})
	if h.runner, err = timewheel.NewRunner(wheel, h.clock); err != nil {
		return err
	}
	return h.runner.Start()
}

// Addr is where this host listens for peers.
func (h *Host) Addr() net.Addr { return h.tr.Addr() }

// NodeID is this host's ID.
func (h *Host) NodeID() uint64 { return h.cfg.NodeID }

// SetPeer records (or changes) the address of host node, which must be
// known before a group with node as a member can reach it.
func (h *Host) SetPeer(node uint64, addr string) error { return h.tr.AddPeer(node, addr) }

// StartGroup starts group on this host with sm as its state machine. A new
// group starts with members, this host among them. A group whose log this
// host already holds restarts from it: pass the members it was created
// with, and the membership changes committed since are replayed from the
// log on top of them (a snapshot's membership, once there is one,
// replaces both). A host joining an existing group as a new member starts
// it with an empty membership and waits for the leader to add it.
func (h *Host) StartGroup(ctx context.Context, group uint64, members Membership, sm fsm.StateMachine) error {
	return h.engine.StartGroup(ctx, group, members, sm)
}

// StopGroup stops group on this host, failing its waiting callers with
// ErrStopped. Once it returns the host never touches sm again; the log is
// kept, so the group can be started again.
func (h *Host) StopGroup(ctx context.Context, group uint64) error {
	return h.engine.StopGroup(ctx, group)
}

// Propose replicates cmd through group's log and returns the result the
// state machine gave it, once it is applied on this host. Only the leader
// proposes: elsewhere the error is a *NotLeaderError naming the leader.
//
// A saturated host blocks the caller until there is room or ctx ends;
// a group holding Raft.UncommittedBytesMax of uncommitted commands
// answers ErrBusy at once.
func (h *Host) Propose(ctx context.Context, group uint64, cmd []byte) ([]byte, error) {
	return h.engine.Propose(ctx, group, cmd)
}

// ProposeBatch proposes cmds to group together, as a pipelined client's
// burst: they enter the propose ring as one publication and reach the log
// in order, and the caller waits once for all. Each outcome holds its
// command's result or error, aligned with cmds; the error is set instead
// when none was proposed (as for Propose), or when ctx ended first.
func (h *Host) ProposeBatch(ctx context.Context, group uint64, cmds [][]byte) ([]Outcome, error) {
	return h.engine.ProposeBatch(ctx, group, cmds)
}

// Read answers query from group's state machine, as fresh as mode
// promises:
//
//   - Linearizable: at the leader; at once while its lease holds (the
//     lease is read from an atomic, outside the step loop), else after a
//     ReadIndex round that every read waiting on the group shares.
//   - ReadIndexOnly: at the leader, always through a ReadIndex round.
//   - LeaseOnly: at the leader through its lease, or ErrNoLease.
//   - FollowerRead: on any member, with the read index from the leader.
//   - Stale: the local state, at once.
//
// Every mode but Stale returns a value at least as new as every write
// acknowledged before the read began. Reads wait for this host's state
// machine to apply the read index, within ctx.
func (h *Host) Read(ctx context.Context, group uint64, query []byte, mode ReadMode) ([]byte, error) {
	return h.engine.Read(ctx, group, query, mode)
}

// Snapshot takes a snapshot of group on this host now, after everything
// it has applied, and compacts the log behind it as the snapshot policy
// would; it returns the snapshot's index once the snapshot is written.
// ErrNoSnapshots if the policy is off (Config.NoSnapshots); ErrBusy if one
// is being written already.
func (h *Host) Snapshot(ctx context.Context, group uint64) (uint64, error) {
	return h.engine.Snapshot(ctx, group)
}

// TransferLeader asks group's leader, which must be this host, to hand
// leadership to voter to; it returns once the transfer has begun.
func (h *Host) TransferLeader(ctx context.Context, group, to uint64) error {
	return h.engine.TransferLeader(ctx, group, to)
}

// AddLearner adds node to group as a learner: it receives the log but
// does not vote. The call returns once the change is in force here.
func (h *Host) AddLearner(ctx context.Context, group, node uint64) error {
	return h.changeMembership(ctx, group, consensus.AddLearner, node)
}

// AddVoter adds node to group as a voter.
func (h *Host) AddVoter(ctx context.Context, group, node uint64) error {
	return h.changeMembership(ctx, group, consensus.AddVoter, node)
}

// PromoteLearner makes learner node of group a voter.
func (h *Host) PromoteLearner(ctx context.Context, group, node uint64) error {
	return h.changeMembership(ctx, group, consensus.PromoteLearner, node)
}

// RemoveMember removes node, voter or learner, from group.
func (h *Host) RemoveMember(ctx context.Context, group, node uint64) error {
	return h.changeMembership(ctx, group, consensus.RemoveNode, node)
}

func (h *Host) changeMembership(ctx context.Context, group uint64, t consensus.ChangeType, node uint64) error {
	return h.engine.ChangeMembership(ctx, group, consensus.MembershipChange{Type: t, Node: node})
}

// Status reports group's state on this host.
func (h *Host) Status(group uint64) (GroupStatus, error) {
	st, ok := h.engine.Status(group)
	if !ok {
		return GroupStatus{}, fmt.Errorf("%w: %d", ErrGroupNotFound, group)
	}
	return st, nil
}

// Stats reports the counters of the pipeline, the transport and the log.
func (h *Host) Stats() Stats {
	return Stats{Stages: h.engine.Stats(), Transport: h.tr.Stats(), WAL: h.store.Stats()}
}

// Stats are a host's counters, for the metrics layer to export.
type Stats struct {
	Stages    stages.EngineStats
	Transport transport.Stats
	WAL       logstore.Stats
}

// Failed is closed when a pipeline stage fails (a log write that could
// not be synced, a state machine that returned an error); the host then
// stops itself, failing its waiting callers with ErrStopped. Err says why.
func (h *Host) Failed() <-chan struct{} { return h.engine.Failed() }

// Err is the failure that stopped a stage, or nil.
func (h *Host) Err() error { return h.engine.Err() }

// Stop stops ticking, fails every waiting caller with ErrStopped once the
// stages have drained, and closes the transport and the log. Everything
// acknowledged is already durable; Stop only writes the groups' latest
// commit indexes (which the log defers, see stages.FsyncStage), sparing
// the next start a little catching up.
//
// A host failed with ErrDiskStall stops only what does not wait on its
// disk (the ticks and the transport) and returns at once: the stalled
// write may never return, and the stages stop behind it if it does.
// Callers still waiting get their deadlines.
func (h *Host) Stop() error {
	h.stopOnce.Do(func() {
		close(h.stopping)
		h.watcher.Wait()
		h.runner.Stop()
		if err := h.engine.Err(); errors.Is(err, ErrDiskStall) {
			h.tr.Close()
			go h.engine.Stop()
			h.stopErr = err
			return
		}
		err := h.engine.Stop()
		err = errors.Join(err, h.tr.Close())
		err = errors.Join(err, h.store.Close())
		h.stopErr = err
	})
	return h.stopErr
}

// hostHandler hands what the transport receives to the engine, which it
// learns once built: the transport listens before the engine exists; and
// forwarded requests to the service's ForwardHandler (forward.go), which
// it learns whenever the service installs it.
type hostHandler struct {
	e       atomic.Pointer[stages.Engine]
	forward atomic.Pointer[ForwardHandler] // nil until HandleForwarded
}

func (t *hostHandler) HandleMessages(batch []transport.Msg) {
	if e := t.e.Load(); e != nil {
		e.Deliver(batch)
	}
}

func (t *hostHandler) HandleSnapshot(s transport.ReceivedSnapshot) error {
	e := t.e.Load()
	if e == nil {
		return ErrStopped
	}
	return e.ReceiveSnapshot(s)
}

func (t *hostHandler) Unreachable(node uint64) {
	if e := t.e.Load(); e != nil {
		e.Unreachable(node)
	}
}

func (t *hostHandler) SnapshotStatus(group, node uint64, ok bool) {
	if e := t.e.Load(); e != nil {
		e.SnapshotStatus(group, node, ok)
	}
}

// HandleCall makes hostHandler a transport.CallHandler: peers' calls are
// requests forwarded with Host.Forward.
func (t *hostHandler) HandleCall(ctx context.Context, from uint64, req []byte) ([]byte, error) {
	return t.serveForwarded(ctx, from, req)
}
