package resp

import (
	"strings"
	"testing"
)

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		lim  Limits
		want string // "" for valid
	}{
		{Limits{}, ""},
		{Limits{BulkBytesMax: 1 << 20, ArgsMax: 1024, InlineBytesMax: 1024, CommandBytesMax: 2 << 20}, ""},
		{Limits{CommandBytesMax: 64}, ""}, // the defaults shrink to fit
		{Limits{BulkBytesMax: -1}, "resp: Limits.BulkBytesMax -1 is negative"},
		{Limits{ArgsMax: -5}, "resp: Limits.ArgsMax -5 is negative"},
		{Limits{InlineBytesMax: -1}, "resp: Limits.InlineBytesMax -1 is negative"},
		{Limits{CommandBytesMax: -1}, "resp: Limits.CommandBytesMax -1 is below 32"},
		{Limits{CommandBytesMax: 8}, "resp: Limits.CommandBytesMax 8 is below 32"},
		{Limits{BulkBytesMax: 2 << 30}, "resp: Limits.BulkBytesMax 2147483648 exceeds Limits.CommandBytesMax 1073741824"},
		{Limits{InlineBytesMax: 100, CommandBytesMax: 101}, "resp: Limits.InlineBytesMax 100 plus CR LF exceeds Limits.CommandBytesMax 101"},
	} {
		err := tc.lim.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.lim, err, tc.want)
		}
	}
}

func TestZeroLimitsAreRedisDefaults(t *testing.T) {
	got := Limits{}.withDefaults()
	want := Limits{BulkBytesMax: 512 << 20, ArgsMax: 1 << 20, InlineBytesMax: 64 << 10, CommandBytesMax: 1 << 30}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestNewReaderPanicsOnInvalidLimits(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(error).Error(), "BulkBytesMax -1") {
			t.Fatalf("got panic %v", p)
		}
	}()
	NewReader(strings.NewReader(""), Limits{BulkBytesMax: -1})
}
