package main

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqlog/mqlog/segment"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaSegment writes a segment file whose batches are encoded by franz-go's kmsg, an implementation of
// Kafka's own wire structures (what a broker keeps in its .log files), at base offsets 100 and 102.
func kafkaSegment(t *testing.T) string {
	t.Helper()
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var file []byte
	for i, values := range [][]string{{"a", "b"}, {"c"}} {
		var records []byte
		for j, v := range values {
			r := kmsg.Record{TimestampDelta64: int64(j), OffsetDelta: int32(j), Key: []byte("k" + v), Value: []byte(v),
				Headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}}
			body := r.AppendTo(nil)
			_, n := binary.Varint(body)
			r.Length = int32(len(body) - n)
			records = r.AppendTo(records)
		}
		b := kmsg.RecordBatch{FirstOffset: int64(100 + 2*i), PartitionLeaderEpoch: 3, Magic: 2,
			LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_001,
			ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), Records: records}
		b.Length = int32(segment.HeaderSize - 12 + len(records))
		b.CRC = int32(crc32.Checksum(b.AppendTo(nil)[21:], castagnoli))
		file = b.AppendTo(file)
	}
	path := filepath.Join(t.TempDir(), segment.FileName(100))
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDumpKafkaSegment(t *testing.T) {
	path := kafkaSegment(t)
	code, stdout, stderr := runCLI(t, "", "--dir", filepath.Join(t.TempDir(), "none"), "dump", path, "-o", "json")
	if code != exitOK {
		t.Fatalf("dump: exit %d, %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	want := []struct {
		offset int64
		value  string
	}{{100, "a"}, {101, "b"}, {102, "c"}}
	if len(lines) != len(want) {
		t.Fatalf("dump printed %d records, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, line := range lines {
		var rec dumpRecordJSON
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if *rec.Offset != want[i].offset || *rec.Value != want[i].value || *rec.Key != "k"+want[i].value ||
			!rec.Batch.Valid || rec.Batch.Epoch != 3 || len(*rec.Headers) != 1 || *(*rec.Headers)[0].Value != "x" {
			t.Errorf("record %d: %s", i, line)
		}
	}
	code, stdout, _ = runCLI(t, "", "dump", path, "--value-format", "size")
	if code != exitOK || !strings.Contains(stdout, "| offset: 102 timestamp: 2023-11-14T22:13:20.000Z key size: 2 value size: 1 headers: \"h\"(1)\n") {
		t.Errorf("dump --value-format size: exit %d\n%s", code, stdout)
	}
}
