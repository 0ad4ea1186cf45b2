package index

import (
	"errors"
	"slices"
	"testing"
)

func timersOf(t *testing.T, s *Store, group, topic string, inc uint64, after *Timer) []Timer {
	t.Helper()
	var out []Timer
	if err := s.EachTimer(group, topic, inc, after, func(tm Timer) bool { out = append(out, tm); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSaveQueueStateTimers: timers are written and removed with their partition's ack state in one
// batch, come back by due time (then partition, offset) from one incarnation, survive a reopen, and a scan
// can start after a given timer and stop early.
func TestSaveQueueStateTimers(t *testing.T) {
	s, fs := openMem(t)
	st := func(p int32) AckState {
		return AckState{Group: "g", Topic: "t", Partition: p, Incarnation: 4, Floor: 10}
	}
	a := Timer{Due: 2000, Partition: 0, Offset: 12}
	b := Timer{Due: 1000, Partition: 1, Offset: 30, Deliveries: 2}
	c := Timer{Due: 2000, Partition: 1, Offset: 11}
	d := Timer{Due: 1000, Partition: 0, Offset: 40}
	if err := s.SaveQueueState(st(0), []TimerChange{{Timer: a}, {Timer: d}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveQueueState(st(1), []TimerChange{{Timer: b}, {Timer: c}}); err != nil {
		t.Fatal(err)
	}
	// Another incarnation and another group do not mix in.
	other := st(0)
	other.Incarnation = 3
	if err := s.SaveQueueState(other, []TimerChange{{Timer: Timer{Due: 1, Offset: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveQueueState(AckState{Group: "h", Topic: "t", Incarnation: 4}, []TimerChange{{Timer: Timer{Due: 5, Offset: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openFS(t, fs, "data/index")
	if got, want := timersOf(t, s, "g", "t", 4, nil), []Timer{d, b, a, c}; !slices.Equal(got, want) {
		t.Fatalf("timers = %v, want %v", got, want)
	}
	if got, want := timersOf(t, s, "g", "t", 4, &b), []Timer{a, c}; !slices.Equal(got, want) {
		t.Fatalf("timers after %v = %v, want %v", b, got, want)
	}
	var first []Timer
	if err := s.EachTimer("g", "t", 4, nil, func(tm Timer) bool { first = append(first, tm); return false }); err != nil || len(first) != 1 {
		t.Fatalf("stopped scan: %v, %v", first, err)
	}
	// A new delivery count replaces the value; a delete removes the key.
	b.Deliveries = 3
	if err := s.SaveQueueState(st(1), []TimerChange{{Timer: b}, {Timer: c, Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if got, want := timersOf(t, s, "g", "t", 4, nil), []Timer{d, b, a}; !slices.Equal(got, want) {
		t.Fatalf("after update: %v, want %v", got, want)
	}
	if err := s.DeleteOtherTimers("g", "t", 4); err != nil {
		t.Fatal(err)
	}
	if got := timersOf(t, s, "g", "t", 3, nil); len(got) != 0 {
		t.Fatalf("stale incarnation kept: %v", got)
	}
	if got := timersOf(t, s, "g", "t", 4, nil); len(got) != 3 {
		t.Fatalf("DeleteOtherTimers removed the current incarnation's: %v", got)
	}
	// Deleting the group's state removes its timers; deleting the topic removes every group's.
	if err := s.DeleteAckStates("g"); err != nil {
		t.Fatal(err)
	}
	if got := timersOf(t, s, "g", "t", 4, nil); len(got) != 0 {
		t.Fatalf("DeleteAckStates kept timers: %v", got)
	}
	if err := s.DeleteTopic("t", nil); err != nil {
		t.Fatal(err)
	}
	if got := timersOf(t, s, "h", "t", 4, nil); len(got) != 0 {
		t.Fatalf("DeleteTopic kept timers: %v", got)
	}
}

func TestSaveQueueStateRejectsForeignTimer(t *testing.T) {
	s, _ := openMem(t)
	for _, tm := range []Timer{{Partition: 1, Due: 5, Offset: 1}, {Due: -1}, {Due: 1, Offset: -1}, {Due: 1, Deliveries: -1}} {
		err := s.SaveQueueState(AckState{Group: "g", Topic: "t"}, []TimerChange{{Timer: tm}})
		if !errors.Is(err, ErrInvalidOffset) {
			t.Errorf("SaveQueueState with timer %+v = %v, want ErrInvalidOffset", tm, err)
		}
	}
}

func TestDecodeTimerCorrupt(t *testing.T) {
	prefix := timerPrefix("g", "t", 1)
	key := timerKey(prefix, Timer{Due: 9, Partition: 2, Offset: 7})
	if tm, err := decodeTimer(prefix, key, encodeTimerValue(Timer{Deliveries: 300})); err != nil || tm.Deliveries != 300 || tm.Offset != 7 {
		t.Fatalf("decode: %+v, %v", tm, err)
	}
	for _, v := range [][]byte{nil, {1}, {2, 0}, {1, 0x80}, {1, 0, 0}, {1, 0xff, 0xff, 0xff, 0xff, 0x7f}} {
		if _, err := decodeTimer(prefix, key, v); !errors.Is(err, ErrCorruptValue) {
			t.Errorf("value %x: %v, want ErrCorruptValue", v, err)
		}
	}
	if _, err := decodeTimer(prefix, key[:len(key)-1], []byte{1, 0}); !errors.Is(err, ErrCorruptKey) {
		t.Errorf("short key: %v, want ErrCorruptKey", err)
	}
}

// TestAckStateAhead: deliveries ahead of the cursor round-trip in version 3; a state without them is
// written as version 2, byte for byte as before.
func TestAckStateAhead(t *testing.T) {
	plain := AckState{Incarnation: 3, Floor: 10, Acked: []AckRange{{12, 14}}, Delivered: 20, Redelivered: []DeliveryCount{{11, 2}}}
	if b := encodeAckState(plain); b[0] != ackStateVersion {
		t.Fatalf("state without Ahead encoded as version %d", b[0])
	}
	withAhead := plain
	withAhead.Ahead = []DeliveryCount{{20, 1}, {25, 3}}
	b := encodeAckState(withAhead)
	if b[0] != ackStateVersion3 {
		t.Fatalf("state with Ahead encoded as version %d", b[0])
	}
	var st AckState
	if err := decodeAckState(nil, b, &st); err != nil {
		t.Fatal(err)
	}
	if !equalAckState(st, withAhead) || !slices.Equal(st.Ahead, withAhead.Ahead) {
		t.Fatalf("decoded %+v, want %+v", st, withAhead)
	}
	for i := range len(b) {
		if err := decodeAckState([]byte("k"), b[:i], &AckState{}); !errors.Is(err, ErrCorruptValue) {
			t.Errorf("truncated to %d bytes: %v, want ErrCorruptValue", i, err)
		}
	}
	s, _ := openMem(t)
	for _, ahead := range [][]DeliveryCount{{{19, 1}}, {{21, 0}}, {{22, 1}, {21, 1}}} {
		st := plain
		st.Group, st.Topic, st.Ahead = "g", "t", ahead
		if err := s.SaveAckState(st); !errors.Is(err, ErrInvalidOffset) {
			t.Errorf("SaveAckState with Ahead %v = %v, want ErrInvalidOffset", ahead, err)
		}
	}
}

// TestSaveQueueStateUnsynced: the unsynced save stores what SaveQueueState stores (state and timers,
// checked alike), read back at once and after a clean close.
func TestSaveQueueStateUnsynced(t *testing.T) {
	s, fs := openMem(t)
	st := AckState{Group: "g", Topic: "t", Partition: 1, Incarnation: 2, Floor: 5, Acked: []AckRange{{7, 9}}, Delivered: 12,
		Redelivered: []DeliveryCount{{Offset: 6, Count: 3}}}
	tm := Timer{Due: 100, Partition: 1, Offset: 20, Deliveries: 1}
	if err := s.SaveQueueStateUnsynced(st, []TimerChange{{Timer: tm}}); err != nil {
		t.Fatal(err)
	}
	bad := st
	bad.Acked = []AckRange{{9, 7}}
	if err := s.SaveQueueStateUnsynced(bad, nil); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("unsorted ranges: %v", err)
	}
	for round := range 2 {
		states, err := s.AckStates("g")
		if err != nil || len(states) != 1 || states[0].Floor != 5 || !slices.Equal(states[0].Acked, st.Acked) ||
			states[0].Delivered != 12 || !slices.Equal(states[0].Redelivered, st.Redelivered) {
			t.Fatalf("round %d: states %+v, %v", round, states, err)
		}
		if got := timersOf(t, s, "g", "t", 2, nil); !slices.Equal(got, []Timer{tm}) {
			t.Fatalf("round %d: timers %v", round, got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openFS(t, fs, "data/index")
	}
}
