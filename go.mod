module github.com/raftpipe/raftpipe

go 1.26

require (
	github.com/lni/goutils v1.3.0
	github.com/smartystreets-prototypes/go-disruptor v0.0.0-20200316140655-c96477fd7a6a
)
