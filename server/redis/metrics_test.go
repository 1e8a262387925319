package redis

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metric returns the value of the counter, gauge or histogram count name
// whose label has value (any labels when label is ""), 0 if none.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := newTestCluster(t, 1, Config{Registerer: reg, MaxClients: 2})
	a := c.dial(0)
	a.send("SET m:k 1\r\nGET m:k\r\nGET\r\nget m:k x\r\nNOSUCH\r\nPING\r\n")
	for _, want := range []string{"+OK", "1", "-ERR wrong number of arguments for 'get' command",
		"-ERR wrong number of arguments for 'get' command", "-ERR unknown command 'NOSUCH', with args beginning with: ", "+PONG"} {
		if got := a.reply(); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
	}
	for _, m := range []struct {
		name, label, value string
		want               float64
	}{
		{"raftpipe_redis_commands_total", "command", "set", 1},
		{"raftpipe_redis_commands_total", "command", "get", 3}, // refused ones too
		{"raftpipe_redis_commands_total", "command", "unknown", 1},
		{"raftpipe_redis_commands_total", "command", "ping", 1},
		{"raftpipe_redis_command_duration_seconds", "kind", "write", 1},
		{"raftpipe_redis_command_duration_seconds", "kind", "read", 1},
		{"raftpipe_redis_connected_clients", "", "", 1},
		{"raftpipe_redis_rejected_connections_total", "", "", 0},
	} {
		if got := metric(t, reg, m.name, m.label, m.value); got != m.want {
			t.Errorf("%s{%s=%q} = %v, want %v", m.name, m.label, m.value, got, m.want)
		}
	}
	b := c.dial(0)
	b.send("PING\r\n")
	b.reply()
	over := c.dial(0)
	if got := over.reply(); got != "-ERR max number of clients reached" {
		t.Errorf("a third connection read %q", got)
	}
	for _, m := range []struct {
		name string
		want float64
	}{{"raftpipe_redis_connected_clients", 2}, {"raftpipe_redis_rejected_connections_total", 1}} {
		if got := metric(t, reg, m.name, "", ""); got != m.want {
			t.Errorf("%s = %v, want %v", m.name, got, m.want)
		}
	}
	a.nc.Close()
	eventually(t, "the gauge counts the closed connection out", func() (bool, string) {
		n := metric(t, reg, "raftpipe_redis_connected_clients", "", "")
		return n == 1, fmt.Sprint(n)
	})
}
