// Package metrics is the Prometheus face of a raftpipe host. It owns
// every metric's name, type, labels and help text (definitions.go is the
// list), turns the log2 histograms the stages and the log keep into
// Prometheus histograms (Log2), and emits it all at scrape time from a
// Sample (Collector).
//
// It imports nothing of raftpipe, as DESIGN.md wants of a leaf: the root
// package's Host.Collector reads the host's counters into a Sample, so
// the pipeline never touches a Prometheus object. The stages count with
// atomics and log2 bucket arrays that they keep anyway; a scrape reads
// them, which is the only time their figures become metrics.
//
// Serving /metrics:
//
//	reg := metrics.NewRegistry() // the Go runtime and process collectors
//	if err := host.RegisterMetrics(reg); err != nil { ... }
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// host.Collector(metrics.Options{...}) is the collector itself, for a
// bound on per-group series other than the default or labels of its own.
//
// # Cardinality
//
// Series are labelled by stage (five, and one per step worker, bounded by
// Config.Workers), by a fixed list of modes, reasons, operations and error
// kinds, and by group only for a bounded set: the raftpipe_group_* series
// exist while the host runs at most Options.GroupSeriesMax groups
// (DefaultGroupSeriesMax, 16), and not at all beyond. The host-wide
// aggregates (raftpipe_groups, raftpipe_groups_led,
// raftpipe_groups_leaderless, raftpipe_apply_lag_max) are always exported.
//
// # Histograms
//
// The stages and the log count observations in log2 buckets: bucket i
// holds [2^i, 2^(i+1)) of a unit (µs for the stages and fsyncs, ms for
// snapshots, one item for sizes). Exported, bucket i becomes the upper
// bound 2^(i+1) units converted to the base unit (le="2e-06" for the
// first bucket of microseconds), counts become cumulative, and the last
// bucket, which also holds everything larger, has no finite bound: its
// observations appear only in +Inf. The sums are exact: every source
// keeps its total beside its buckets (EstimateSum is for one that does
// not).
package metrics
