package segment

import (
	"math"
	"testing"
)

func TestFileNames(t *testing.T) {
	for _, base := range []int64{0, 1, 42, 1 << 40, math.MaxInt64} {
		name := FileName(base)
		if len(name) != 24 {
			t.Fatalf("%q", name)
		}
		got, ok := ParseFileName(name)
		if !ok || got != base {
			t.Fatalf("ParseFileName(%q) = %d, %v", name, got, ok)
		}
	}
	if FileName(42) != "00000000000000000042.log" {
		t.Fatal(FileName(42))
	}
	for _, bad := range []string{"", ".log", "42.log", "0000000000000000004.log", "000000000000000000042.log",
		"0000000000000000004x.log", "00000000000000000042.index", "-0000000000000000042.log",
		"99999999999999999999.log", "00000000000000000042.log.tmp", "+0000000000000000042.log"} {
		if _, ok := ParseFileName(bad); ok {
			t.Fatalf("ParseFileName(%q) accepted", bad)
		}
	}
}
