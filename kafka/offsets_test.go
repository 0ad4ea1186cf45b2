package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newAdmin is a franz-go admin client of the test server, closed with the test.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestCommitMetadataThroughKadm: franz-go's admin client commits offsets with metadata and a leader
// epoch, and reads both back (OffsetFetch in the newest version franz-go sends); the embedded API sees
// them too, and they survive a restart. Before metadata was stored, the fetch answered "".
func TestCommitMetadataThroughKadm(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, db, nil)
	createTopic(t, db, "t", 2)
	adm := newAdmin(t, ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "t", Partition: 0, At: 4, LeaderEpoch: 3, Metadata: "checkpoint 4"})
	offsets.Add(kadm.Offset{Topic: "t", Partition: 1, At: 6, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, "g", offsets)
	if err != nil || resp.Error() != nil {
		t.Fatalf("CommitOffsets: %v, %v", err, resp.Error())
	}
	check := func(when string, fetched kadm.OffsetResponses) {
		t.Helper()
		if err := fetched.Error(); err != nil {
			t.Fatalf("%s: FetchOffsets: %v", when, err)
		}
		o0, _ := fetched.Lookup("t", 0)
		o1, _ := fetched.Lookup("t", 1)
		if o0.At != 4 || o0.LeaderEpoch != 3 || o0.Metadata != "checkpoint 4" || o1.At != 6 || o1.LeaderEpoch != -1 || o1.Metadata != "" {
			t.Fatalf("%s: fetched %+v and %+v, want 4 (epoch 3, \"checkpoint 4\") and 6 (epoch -1, \"\")", when, o0.Offset, o1.Offset)
		}
	}
	fetched, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	check("after the commit", fetched)
	embedded, err := db.GroupOffsets("g")
	if err != nil || len(embedded) != 2 || embedded[0].Metadata != "checkpoint 4" || embedded[0].LeaderEpoch != 3 || embedded[1].LeaderEpoch != -1 {
		t.Fatalf("DB.GroupOffsets = %+v, %v", embedded, err)
	}
	if c, ok, err := db.FetchGroupCommit("g", "t", 0); err != nil || !ok || c.Metadata != "checkpoint 4" || c.LeaderEpoch != 3 || c.Offset != 4 {
		t.Fatalf("DB.FetchGroupCommit = %+v, %v, %v", c, ok, err)
	}
	ts.stop(t)

	db, err = mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts = startServerOn(t, db, nil)
	fetched, err = newAdmin(t, ts.addr).FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	check("after a restart", fetched)
}

// TestCommitMetadataVersions: metadata is stored and returned in every OffsetCommit and OffsetFetch
// version (the leader epoch from v6 of the commit and v5 of the fetch, -1 before), through the v8+
// multi-group form too; a null metadata is stored as ""; metadata over MaxOffsetMetadataBytes is
// OFFSET_METADATA_TOO_LARGE for that partition alone.
func TestCommitMetadataVersions(t *testing.T) {
	ts := startServer(t, nil)
	createTopic(t, ts.db, "t", 2)
	c := dial(t, ts.addr)
	for v := int16(0); v <= 9; v++ {
		commit := commitReq(v, "g", "", -1, "t", int64(v), int64(v))
		md := "v" + string(rune('0'+v))
		commit.Topics[0].Partitions[0].Metadata = &md
		commit.Topics[0].Partitions[0].LeaderEpoch = int32(v)
		commit.Topics[0].Partitions[1].Metadata = nil
		if codes := commitCodes(c.do(commit).(*kmsg.OffsetCommitResponse)); codes[0] != 0 || codes[1] != 0 {
			t.Fatalf("commit v%d: %v", v, codes)
		}
		wantEpoch := int32(-1)
		if v >= 6 {
			wantEpoch = int32(v)
		}
		for fv := int16(1); fv <= 9; fv++ {
			var parts []kmsg.OffsetFetchResponseTopicPartition
			if fv < 8 {
				r := c.do(fetchOffsetsReq(fv, "g", "t", 0, 1)).(*kmsg.OffsetFetchResponse)
				if r.ErrorCode != 0 || len(r.Topics) != 1 {
					t.Fatalf("fetch v%d after commit v%d: %+v", fv, v, r)
				}
				parts = r.Topics[0].Partitions
			} else {
				req := kmsg.NewPtrOffsetFetchRequest()
				req.Version = fv
				g := kmsg.NewOffsetFetchRequestGroup()
				g.Group = "g"
				gt := kmsg.NewOffsetFetchRequestGroupTopic()
				gt.Topic, gt.Partitions = "t", []int32{0, 1}
				g.Topics = append(g.Topics, gt)
				req.Groups = append(req.Groups, g)
				r := c.do(req).(*kmsg.OffsetFetchResponse)
				if len(r.Groups) != 1 || r.Groups[0].ErrorCode != 0 || len(r.Groups[0].Topics) != 1 {
					t.Fatalf("fetch v%d after commit v%d: %+v", fv, v, r)
				}
				for _, p := range r.Groups[0].Topics[0].Partitions {
					parts = append(parts, kmsg.OffsetFetchResponseTopicPartition{Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode})
				}
			}
			if len(parts) != 2 || parts[0].Metadata == nil || *parts[0].Metadata != md || parts[1].Metadata == nil || *parts[1].Metadata != "" ||
				parts[0].Offset != int64(v) || parts[1].Offset != int64(v) {
				t.Fatalf("fetch v%d after commit v%d: %+v, want metadata %q and \"\"", fv, v, parts, md)
			}
			if fv >= 5 && parts[0].LeaderEpoch != wantEpoch {
				t.Fatalf("fetch v%d after commit v%d: leader epoch %d, want %d", fv, v, parts[0].LeaderEpoch, wantEpoch)
			}
		}
	}

	commit := commitReq(9, "g", "", -1, "t", 1, 2)
	big, small := strings.Repeat("m", mqlog.MaxOffsetMetadataBytes+1), "ok"
	commit.Topics[0].Partitions[0].Metadata = &big
	commit.Topics[0].Partitions[1].Metadata = &small
	if codes := commitCodes(c.do(commit).(*kmsg.OffsetCommitResponse)); codes[0] != kerr.OffsetMetadataTooLarge.Code || codes[1] != 0 {
		t.Fatalf("commit of %d bytes of metadata: %v, want OFFSET_METADATA_TOO_LARGE and 0", len(big), codes)
	}
	if got, ok, err := ts.db.FetchGroupCommit("g", "t", 0); err != nil || !ok || got.Offset != 9 || got.Metadata != "v9" {
		t.Fatalf("the refused commit changed partition 0: %+v, %v, %v", got, ok, err)
	}
}
