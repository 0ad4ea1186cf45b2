package mqlog

import (
	"context"
	"testing"
	"time"
)

func TestSyncPolicies(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{Sync: policy, SyncInterval: 5 * time.Millisecond}
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, db, "p", 20)
			// Written data is readable at once under every policy.
			if n := len(readAll(t, db, "p", 0)); n != 20 {
				t.Fatalf("read %d before close, want 20", n)
			}
			syncs := db.Metrics().Syncs
			switch policy {
			case SyncAlways:
				if syncs < 1 || syncs > 20 {
					t.Fatalf("%d fsyncs for 20 sequential appends", syncs)
				}
			case SyncNever:
				if syncs != 0 {
					t.Fatalf("SyncNever fsynced %d times", syncs)
				}
			case SyncInterval:
				deadline := time.Now().Add(5 * time.Second)
				for db.Metrics().Syncs == 0 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if db.Metrics().Syncs == 0 {
					t.Fatal("SyncInterval never fsynced")
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if n := len(readAll(t, db, "p", 0)); n != 20 {
				t.Fatalf("read %d after clean close, want 20", n)
			}
		})
	}
}

// A read-only DB on the directory a writer is using follows what the writer appends, across segment rolls.
func TestReadOnlyFollowsWriter(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.CreateTopic("f", TopicConfig{SegmentBytes: 1024}); err != nil {
		t.Fatal(err)
	}
	appendN(t, w, "f", 5)
	r, err := OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Append(context.Background(), "f", Message{}); err != ErrReadOnly {
		t.Fatalf("Append on a read-only DB: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan int)
	go func() {
		n := 0
		for rec, err := range r.Follow(ctx, "f", 0, 0) {
			if err != nil || rec.Offset != int64(n) {
				break
			}
			n++
			if n == 100 {
				break
			}
		}
		done <- n
	}()
	for i := 5; i < 100; i++ {
		if _, err := w.Append(context.Background(), "f", Message{Value: []byte("more data to roll segments quickly")}); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-done; n != 100 {
		t.Fatalf("follower read %d records in order, want 100", n)
	}
	if m := w.Metrics(); m.Rolls == 0 {
		t.Fatal("no roll happened; the test should cross segments")
	}
}
