package peers

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// TestSystemsRoundTrip writes a few batches to every system durably, reopens it and reads every payload
// back, in order, byte for byte.
func TestSystemsRoundTrip(t *testing.T) {
	for _, sys := range Systems() {
		t.Run(sys.Name, func(t *testing.T) {
			t.Parallel()
			if sys.Durability == "" || sys.Batching == "" {
				t.Errorf("%s: durability or batching not described", sys.Name)
			}
			dir := t.TempDir()
			q, err := sys.Open(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for i, n := range []int{1, 3, 16} {
				batch := make([][]byte, n)
				for j := range batch {
					batch[j] = []byte(fmt.Sprintf("batch %d message %d %s", i, j, bytes.Repeat([]byte{'x'}, j*10)))
				}
				if err := q.Append(batch); err != nil {
					t.Fatal(err)
				}
				want = append(want, batch...)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q, err = sys.Open(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := q.Close(); err != nil {
					t.Error(err)
				}
			}()
			var got [][]byte
			n, err := q.Scan(context.Background(), func(p []byte) { got = append(got, bytes.Clone(p)) })
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(want)) || len(got) != len(want) {
				t.Fatalf("read %d messages (%d payloads), wrote %d", n, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("message %d: got %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}

// TestConcurrentAppend checks that every system takes appends from several goroutines at once without
// losing or duplicating any.
func TestConcurrentAppend(t *testing.T) {
	for _, sys := range Systems() {
		t.Run(sys.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			q, err := sys.Open(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			const producers, each = 4, 5
			errs := make(chan error, producers)
			for p := range producers {
				go func() {
					var err error
					for i := 0; i < each && err == nil; i++ {
						err = q.Append([][]byte{[]byte(fmt.Sprintf("p%d-%d", p, i))})
					}
					errs <- err
				}()
			}
			for range producers {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q, err = sys.Open(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			seen := map[string]bool{}
			n, err := q.Scan(context.Background(), func(p []byte) { seen[string(p)] = true })
			if err != nil {
				t.Fatal(err)
			}
			if n != producers*each || len(seen) != producers*each {
				t.Errorf("read %d messages, %d distinct; want %d", n, len(seen), producers*each)
			}
		})
	}
}

func TestSelectSystems(t *testing.T) {
	sel, err := SelectSystems([]string{NamePebble, NameMQLog})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sel {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[mqlog raw pebble]" {
		t.Errorf("selected %v, want [mqlog raw pebble] (raw always, Systems order)", names)
	}
	if _, err := SelectSystems([]string{"kafka"}); err == nil {
		t.Error("an unknown system was accepted")
	}
}
