package wal

import (
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/segment"
)

// clientFrame encodes n records as a producer would: base offset 0, epoch -1, producer fields set.
func clientFrame(t *testing.T, n int, first int) []byte {
	t.Helper()
	recs := make([]segment.Record, n)
	for i := range recs {
		recs[i] = segment.Record{Timestamp: int64(1000 + first + i), Value: value(first + i)}
	}
	frame, err := segment.AppendBatch(nil, recs, segment.EncodeOptions{Epoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	segment.SetProducer(frame, 7, 0, int32(first))
	return frame
}

func TestAppendFrameKeepsClientBytes(t *testing.T) {
	fs, idx := vfs.NewMem(), &memIndex{}
	l := openTestLog(t, fs, idx, 4096)
	defer l.Close()
	if _, err := l.Append([]segment.Record{{Value: value(0)}}); err != nil {
		t.Fatal(err)
	}
	var sent [][]byte
	for i := 0; i < 40; i++ { // rolls several 4 KiB segments
		frame := clientFrame(t, 5, 1+5*i)
		sent = append(sent, append([]byte(nil), frame...))
		base, err := l.AppendFrame(frame, FrameHooks{})
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(1 + 5*i); base != want {
			t.Fatalf("batch %d: base %d, want %d", i, base, want)
		}
	}
	if hw := l.HighWatermark(); hw != 201 {
		t.Fatalf("high watermark %d, want 201", hw)
	}
	// Raw reads give back the client's bytes with only base offset and epoch changed.
	r, err := l.NewReader(3, false) // inside the first client batch (offsets 1..5)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		b, err := r.NextBatch()
		if errors.Is(err, io.EOF) {
			if i != len(sent) {
				t.Fatalf("read %d batches, want %d", i, len(sent))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Header.BaseOffset != int64(1+5*i) || b.Header.PartitionLeaderEpoch != l.Epoch() {
			t.Fatalf("batch %d: base %d epoch %d", i, b.Header.BaseOffset, b.Header.PartitionLeaderEpoch)
		}
		if b.Header.ProducerID != 7 || b.Header.BaseSequence != int32(1+5*i) {
			t.Fatalf("batch %d: producer %d seq %d", i, b.Header.ProducerID, b.Header.BaseSequence)
		}
		if string(b.Frame[17:]) != string(sent[i][17:]) { // from the CRC on, byte for byte
			t.Fatalf("batch %d: bytes differ from the client's", i)
		}
	}
	// Mixing Next and NextBatch: Next decodes offset 6, NextBatch then skips the rest of that batch.
	r, _ = l.NewReader(6, false)
	if rec, err := r.Next(); err != nil || rec.Offset != 6 {
		t.Fatalf("Next: %v %v", rec, err)
	}
	if b, err := r.NextBatch(); err != nil || b.Header.BaseOffset != 11 {
		t.Fatalf("NextBatch after Next: base %d, %v", b.Header.BaseOffset, err)
	}
}

func TestAppendFrameCheckRunsAtomically(t *testing.T) {
	l := openTestLog(t, vfs.NewMem(), &memIndex{}, 1<<20)
	defer l.Close()
	refused := errors.New("refused")
	var bases []int64
	queuedCalls := 0
	check := func(base int64) error {
		bases = append(bases, base)
		if len(bases) == 2 {
			return refused
		}
		return nil
	}
	for i := 0; i < 3; i++ {
		_, err := l.AppendFrame(clientFrame(t, 2, 2*i), FrameHooks{Check: check, Queued: func() { queuedCalls++ }})
		if i == 1 && !errors.Is(err, refused) {
			t.Fatalf("second append: %v, want the check's error", err)
		}
		if i != 1 && err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{0, 2, 2}; len(bases) != 3 || bases[0] != want[0] || bases[1] != want[1] || bases[2] != want[2] {
		t.Fatalf("check saw bases %v, want %v (a refused batch takes no offsets)", bases, want)
	}
	if hw := l.HighWatermark(); hw != 4 {
		t.Fatalf("high watermark %d, want 4", hw)
	}
	if queuedCalls != 3 {
		t.Fatalf("Queued called %d times for 3 appends (one refused), want 3", queuedCalls)
	}
}

func TestAppendFrameRejectsBadFrames(t *testing.T) {
	l := openTestLog(t, vfs.NewMem(), &memIndex{}, 1<<20)
	defer l.Close()
	frame := clientFrame(t, 3, 0)
	if _, err := l.AppendFrame(frame[:len(frame)-1], FrameHooks{}); !errors.Is(err, segment.ErrTruncated) {
		t.Fatalf("short frame: %v", err)
	}
	if _, err := l.AppendFrame(append(frame, 0), FrameHooks{}); !errors.Is(err, segment.ErrTruncated) {
		t.Fatalf("frame with a trailing byte: %v", err)
	}
	if _, err := l.AppendFrame(frame[:20], FrameHooks{}); !errors.Is(err, segment.ErrTruncated) {
		t.Fatalf("header only: %v", err)
	}
	if l.HighWatermark() != 0 {
		t.Fatal("a rejected frame was appended")
	}
}
