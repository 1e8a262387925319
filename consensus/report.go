package consensus

// ReportUnreachable tells a leader that the transport could not reach
// node: appends in flight to it are presumed lost, so it goes back to
// probing instead of waiting for a window that will never drain.
func (c *Core) ReportUnreachable(node uint64) {
	if c.err != nil || c.role != Leader {
		return
	}
	if pr := c.progress(node); pr != nil && pr.id != c.id && pr.state == replicate {
		pr.becomeProbe()
	}
}

// ReportSnapshot tells a leader how sending a snapshot to node ended. On
// success the node waits for the node's append response, which resumes
// replication after the snapshot; on failure it probes again, and a new
// snapshot is sent if still needed.
func (c *Core) ReportSnapshot(node uint64, ok bool) {
	if c.err != nil || c.role != Leader {
		return
	}
	pr := c.progress(node)
	if pr == nil || pr.state != snapshot {
		return
	}
	if !ok {
		pr.pendingSnapshot = 0
	}
	pr.becomeProbe()
	// Wait for the node's answer (or the next heartbeat) before probing.
	pr.probeSent = true
}
