package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestRawLogWritesWhatItReadsBack(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "prealloc"}[prealloc], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "raw.log")
			l, err := CreateRawLog(path, prealloc)
			if err != nil {
				t.Fatal(err)
			}
			var want RawReadStats
			var all [][]byte
			for i, batch := range [][][]byte{Payloads(1, 100), Payloads(16, 1024), {{}, {7}}, Payloads(256, 10)} {
				if err := l.AppendBatch(batch); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
				for _, p := range batch {
					want.Messages++
					want.Bytes += int64(len(p))
					if len(p) > 0 {
						want.Sum += uint64(p[0])
					}
				}
				all = append(all, batch...)
			}
			if prealloc {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() != RawPreallocStep {
					t.Errorf("preallocated file is %d bytes, want %d", fi.Size(), RawPreallocStep)
				}
			}
			size := l.Size()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := ReadRawLog(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("read back %+v, wrote %+v", got, want)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != size {
				t.Errorf("file is %d bytes after Close, wrote %d", len(b), size)
			}
			// The bytes are the length-prefixed payloads, in order.
			var expect []byte
			for _, p := range all {
				expect = binary.LittleEndian.AppendUint32(expect, uint32(len(p)))
				expect = append(expect, p...)
			}
			if !bytes.Equal(b, expect) {
				t.Error("file bytes differ from the length-prefixed payloads written")
			}
		})
	}
}

func TestRawLogGrowsInSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.log")
	l, err := CreateRawLog(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := [][]byte{make([]byte, RawPreallocStep)} // with its prefix, past the first step
	if err := l.WriteBatch(big); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 2*RawPreallocStep {
		t.Errorf("file is %d bytes, want two steps (%d)", fi.Size(), 2*RawPreallocStep)
	}
}

func TestReadRawLogTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.log")
	l, err := CreateRawLog(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AppendBatch(Payloads(3, 50)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, l.Size()-1); err != nil {
		t.Fatal(err)
	}
	st, err := ReadRawLog(path)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if st.Messages != 2 {
		t.Errorf("read %d whole messages, want 2", st.Messages)
	}
}
