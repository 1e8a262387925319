//go:build linux

package main

import "syscall"

// childProcAttr has the kernel kill a node if the test binary dies
// without its cleanups (a panic, go test's timeout), so that no node
// outlives its test holding ports.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
