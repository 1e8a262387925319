package main

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

func TestRunPrintsTheFloor(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-dir", t.TempDir(), "-duration", "200ms"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if r.System != "floor" || r.FsyncP50us <= 0 || r.RTTP50us <= 0 {
		t.Errorf("result %+v", r)
	}
	if d := r.SumP50us - (r.FsyncP50us + r.RTTP50us); math.Abs(d) > 0.11 {
		t.Errorf("sum %v is not fsync %v + rtt %v", r.SumP50us, r.FsyncP50us, r.RTTP50us)
	}
	t.Logf("%s%s", errb.String(), out.String())
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-duration", "0s"}, {"extra"}, {"-nope"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q; want 2 and nothing", args, code, out.String())
		}
	}
}
