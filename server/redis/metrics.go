package redis

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are the client-facing metrics: commands by name (a
// bounded set: the commands served, and "unknown"), the time from a run's
// start to its replies by kind, and the connections.
type serverMetrics struct {
	commands map[string]prometheus.Counter
	duration [3]prometheus.Observer // by kind
	clients  prometheus.Gauge
	rejected prometheus.Counter
}

func newServerMetrics(reg prometheus.Registerer) (*serverMetrics, error) {
	cmds := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "raftpipe_redis_commands_total", Help: "Redis commands received, by command.",
	}, []string{"command"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "raftpipe_redis_command_duration_seconds",
		Help:    "Time from the start of a run of a client's burst to its replies, per command, by kind: write (replicated), read, local.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50 us to 1.6 s
	}, []string{"kind"})
	m := &serverMetrics{
		commands: map[string]prometheus.Counter{},
		clients:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "raftpipe_redis_connected_clients", Help: "Client connections open."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftpipe_redis_rejected_connections_total", Help: "Client connections refused at the max-clients limit."}),
	}
	for name := range commands {
		m.commands[name] = cmds.WithLabelValues(name)
	}
	m.commands[""] = cmds.WithLabelValues("unknown")
	for k, name := range map[kind]string{kindLocal: "local", kindWrite: "write", kindRead: "read"} {
		m.duration[k] = dur.WithLabelValues(name)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{cmds, dur, m.clients, m.rejected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *serverMetrics) command(name string) {
	if c, ok := m.commands[name]; ok {
		c.Inc()
	}
}

// observe records a run of n commands that took d.
func (m *serverMetrics) observe(k kind, n int, d time.Duration) {
	s := d.Seconds()
	for range n {
		m.duration[k].Observe(s)
	}
}
