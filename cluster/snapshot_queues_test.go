package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/segment"
)

// The work-queue records of a snapshot: a partition with more timers than one record holds is written
// as several records of the same state, read back as they were written; a stream that ends where the
// records would begin (written before there were any) has none; a damaged record is ErrBadSnapshot.
func TestSnapshotQueueRecords(t *testing.T) {
	many := mqlog.QueueStateSave{State: mqlog.QueueAckState{Group: "g", Topic: "t", Partition: 1, Floor: 3, Delivered: 9}}
	for i := range 2*queueTimersPerRecord + 5 {
		var c mqlog.QueueTimerChange
		c.Due, c.Partition, c.Offset = 1000+int64(i), 1, 10+int64(i)
		many.Timers = append(many.Timers, c)
	}
	none := mqlog.QueueStateSave{State: mqlog.QueueAckState{Group: "h", Topic: "u", Floor: 7, Delivered: 7}}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := writeQueueStates(w, []mqlog.QueueStateSave{many, none}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	sr := &snapshotReader{r: bufio.NewReader(bytes.NewReader(buf.Bytes())), maxFrame: segment.DefaultMaxBatchBytes}
	var got []mqlog.QueueStateSave
	for {
		save, ok, err := sr.nextQueueState()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, save)
	}
	if len(got) != 4 {
		t.Fatalf("%d records, want 3 for %d timers and 1 for none", len(got), len(many.Timers))
	}
	var timers []mqlog.QueueTimerChange
	for _, rec := range got[:3] {
		if !reflect.DeepEqual(rec.State, many.State) || len(rec.Timers) > queueTimersPerRecord {
			t.Fatalf("record %+v with %d timers", rec.State, len(rec.Timers))
		}
		timers = append(timers, rec.Timers...)
	}
	if !reflect.DeepEqual(timers, many.Timers) || !reflect.DeepEqual(got[3].State, none.State) || len(got[3].Timers) != 0 {
		t.Fatalf("timers or the last record differ: %d timers, last %+v", len(timers), got[3])
	}
	sr = &snapshotReader{r: bufio.NewReader(bytes.NewReader(nil)), maxFrame: 1}
	if _, ok, err := sr.nextQueueState(); ok || err != nil {
		t.Fatalf("a stream without records: %v %v", ok, err)
	}
	damaged := append([]byte{0, 0, 0, 3}, "{x}"...)
	sr = &snapshotReader{r: bufio.NewReader(bytes.NewReader(damaged)), maxFrame: 1}
	if _, _, err := sr.nextQueueState(); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("a damaged record: %v", err)
	}
	sr = &snapshotReader{r: bufio.NewReader(bytes.NewReader([]byte{0, 0})), maxFrame: 1}
	if _, _, err := sr.nextQueueState(); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("a cut length: %v", err)
	}
}
