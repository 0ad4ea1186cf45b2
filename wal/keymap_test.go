package wal

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestKeyMapIsBounded(t *testing.T) {
	m := newKeyMap(100 * keyMapEntryBytes)
	for i := range 100 {
		if !m.put(fmt.Appendf(nil, "key-%d", i), int64(i)) {
			t.Fatalf("key %d refused below capacity", i)
		}
	}
	if m.put([]byte("one more"), 100) {
		t.Fatal("a full map took a new key")
	}
	if !m.put([]byte("key-7"), 200) {
		t.Fatal("a full map refused to update a key it holds")
	}
	if o, ok := m.latest([]byte("key-7")); !ok || o != 200 {
		t.Fatalf("latest(key-7) = %d, %v", o, ok)
	}
	if _, ok := m.latest([]byte("one more")); ok {
		t.Fatal("refused key found")
	}
	if small := newKeyMap(1); small.capacity != minKeyMapEntries {
		t.Fatalf("a 1-byte map holds %d keys, want the minimum %d", small.capacity, minKeyMapEntries)
	}
}

// The throttle refuses at once an amount of I/O that cannot fit before the context's deadline at its
// rate: a check of the limit that does not depend on the machine's speed.
func TestThrottleLimitsRate(t *testing.T) {
	if err := newThrottle(0).wait(context.Background(), 1<<30); err != nil {
		t.Fatalf("unlimited throttle: %v", err)
	}
	th := newThrottle(1 << 20) // 1 MiB/s, burst 100 KiB
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := th.wait(ctx, th.limiter.Burst()); err != nil {
		t.Fatalf("one burst: %v", err)
	}
	err := th.wait(ctx, 4<<20) // needs about 4 seconds
	if err == nil || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		t.Fatalf("4 MiB more at 1 MiB/s within 500 ms: %v", err)
	}
}
