package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry holding the Go runtime's collector
// (go_*) and the process's (process_*), which whoever serves /metrics
// registers once per process: a host's collector does not, so that a
// process running several hosts does not register them twice. Register
// each host's collector in it and serve it with promhttp.HandlerFor.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
