package redis

import (
	"testing"
)

// halves routes keys below "m" to group 1, the others to group 2: two
// regions, as a split will make.
type halves struct{}

func (halves) GroupOf(k []byte) uint64 {
	if string(k) < "m" {
		return 1
	}
	return 2
}
func (halves) Groups() []uint64 { return []uint64{1, 2} }

func TestMultiKeyCommandsStayInOneGroup(t *testing.T) {
	keys := func(ks ...string) [][]byte {
		out := make([][]byte, len(ks))
		for i, k := range ks {
			out[i] = []byte(k)
		}
		return out
	}
	cases := []struct {
		args   [][]byte
		stride int
		want   error
	}{
		{keys("a", "b", "c"), 1, nil},
		{keys("a", "b", "x"), 1, errCrossGroup},
		{keys("x", "y"), 1, nil},
		{keys("a", "zzz", "b", "zzz"), 2, nil}, // MSET: the values do not route
		{keys("a", "1", "x", "2"), 2, errCrossGroup},
	}
	for _, tc := range cases {
		if got := oneGroup(halves{}, tc.args, tc.stride); got != tc.want {
			t.Errorf("oneGroup(%q, stride %d) = %v, want %v", tc.args, tc.stride, got, tc.want)
		}
	}
}
