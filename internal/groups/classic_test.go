package groups

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/mqlog/mqlog/index"
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/catalog"
	"github.com/mqlog/mqlog/segment"
	"github.com/mqlog/mqlog/wal"
	"go.uber.org/goleak"
)

// testCoordinator returns a coordinator over a real index and catalog on an in-memory filesystem, with a
// topic "t" of two partitions holding ten records each.
func testCoordinator(t *testing.T) (*Coordinator, *catalog.Catalog) {
	t.Helper()
	fs := vfs.NewMem()
	store, err := index.Open("/d/index", index.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	cat, err := catalog.Open(catalog.Options{FS: fs, Dir: "/d", Index: store, Log: wal.Options{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cat.Close()
		store.Close()
	})
	tp, _, err := cat.Create("t", base.TopicConfig{Partitions: 2}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range tp.Logs() {
		recs := make([]segment.Record, 10)
		if _, err := l.Append(recs); err != nil {
			t.Fatal(err)
		}
	}
	return New(store, cat, logger), cat
}

func joinReq(group, member string) JoinRequest {
	return JoinRequest{Group: group, MemberID: member, ProtocolType: "consumer", ClientID: "test",
		Protocols:      []Protocol{{Name: "range", Metadata: []byte("m-" + member)}, {Name: "cooperative-sticky"}},
		SessionTimeout: MinSessionTimeout, RebalanceTimeout: 2 * time.Second, RequireKnownMemberID: true}
}

// joinFully does the two-step join of JoinGroup v4+: the first gives an id, the second joins with it.
func joinFully(t *testing.T, c *Coordinator, ctx context.Context, group string) (JoinResult, error) {
	t.Helper()
	res, err := c.Join(ctx, joinReq(group, ""))
	if !errors.Is(err, ErrMemberIDRequired) || res.MemberID == "" {
		t.Fatalf("first join = %+v, %v; want ErrMemberIDRequired with an id", res, err)
	}
	return c.Join(ctx, joinReq(group, res.MemberID))
}

func TestClassicRebalance(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the cleanups below, which close the stores
	c, cat := testCoordinator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a, err := joinFully(t, c, ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if a.Generation != 1 || a.Leader != a.MemberID || len(a.Members) != 1 || a.Protocol != "range" {
		t.Fatalf("first member's join: %+v", a)
	}
	if _, err := c.Sync(ctx, SyncRequest{Group: "g", MemberID: a.MemberID, Generation: 1, Assignments: map[string][]byte{a.MemberID: []byte("both")}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Describe("g"); d.State != StateStable || len(d.Members) != 1 || string(d.Members[0].Assignment) != "both" {
		t.Fatalf("describe after the first sync: %+v", d)
	}

	// A second member: the first learns of the rebalance from its heartbeat and joins again.
	var wg sync.WaitGroup
	var b JoinResult
	var bErr error
	wg.Go(func() { b, bErr = joinFully(t, c, ctx, "g") })
	deadline := time.Now().Add(5 * time.Second)
	for c.Heartbeat("g", a.MemberID, 1) == nil {
		if time.Now().After(deadline) {
			t.Fatal("no rebalance seen by the first member")
		}
		time.Sleep(time.Millisecond)
	}
	a2, err := c.Join(ctx, joinReq("g", a.MemberID))
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if bErr != nil {
		t.Fatal(bErr)
	}
	if a2.Generation != 2 || b.Generation != 2 || a2.Leader != a.MemberID || len(a2.Members) != 2 || len(b.Members) != 0 {
		t.Fatalf("second rebalance: leader's %+v, follower's %+v", a2, b)
	}

	// The follower's sync waits for the leader's.
	var bSync SyncResult
	wg.Go(func() { bSync, bErr = c.Sync(ctx, SyncRequest{Group: "g", MemberID: b.MemberID, Generation: 2}) })
	time.Sleep(20 * time.Millisecond)
	if _, err := c.Sync(ctx, SyncRequest{Group: "g", MemberID: a.MemberID, Generation: 2,
		Assignments: map[string][]byte{a.MemberID: []byte("p0"), b.MemberID: []byte("p1")}}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if bErr != nil || string(bSync.Assignment) != "p1" || bSync.Protocol != "range" {
		t.Fatalf("follower's sync: %+v, %v", bSync, bErr)
	}

	// Commits: the current generation goes through; an old one and a stranger are fenced, as Kafka does.
	tp, _ := cat.Topic("t")
	commit := []OffsetCommit{{Topic: tp, Partition: 1, Offset: 5}}
	if errs, err := c.CommitClassic("g", b.MemberID, 2, commit); err != nil || errs[0] != nil {
		t.Fatalf("commit of the current generation: %v %v", errs, err)
	}
	if _, err := c.CommitClassic("g", b.MemberID, 1, commit); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("commit of an old generation: %v", err)
	}
	if _, err := c.CommitClassic("g", "stranger", 2, commit); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("commit of an unknown member: %v", err)
	}
	if _, err := c.CommitClassic("g", "", -1, commit); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("commit without a member while the group has members: %v", err)
	}
	if off, ok, err := c.FetchOffset("g", tp, 1); err != nil || !ok || off != 5 {
		t.Fatalf("FetchOffset = %d, %v, %v", off, ok, err)
	}

	// An embedded Consumer cannot join a group of Kafka's protocol.
	if _, err := c.NewConsumer("g", tp); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("embedded join of a classic group: %v", err)
	}

	// Leaving: one by one; the group ends Empty (it has an offset).
	if errs := c.Leave("g", []string{b.MemberID}, nil); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if err := c.Heartbeat("g", a.MemberID, 2); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("heartbeat after a leave: %v", err)
	}
	a3, err := c.Join(ctx, joinReq("g", a.MemberID))
	if err != nil || a3.Generation != 3 || len(a3.Members) != 1 {
		t.Fatalf("join after a leave: %+v, %v", a3, err)
	}
	if errs := c.Leave("g", []string{a.MemberID}, nil); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if d, _ := c.Describe("g"); d.State != StateEmpty || len(d.Members) != 0 {
		t.Fatalf("describe after everyone left: %+v", d)
	}
	if errs, err := c.CommitClassic("g", "", -1, commit); err != nil || errs[0] != nil {
		t.Fatalf("commit without a member of an empty group: %v %v", errs, err)
	}
}

func TestClassicProtocolMismatch(t *testing.T) {
	c, cat := testCoordinator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := joinFully(t, c, ctx, "g"); err != nil {
		t.Fatal(err)
	}
	other := joinReq("g", "")
	other.Protocols = []Protocol{{Name: "roundrobin"}}
	if _, err := c.Join(ctx, other); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("join with no common protocol: %v", err)
	}
	other = joinReq("g", "")
	other.ProtocolType = "connect"
	if _, err := c.Join(ctx, other); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("join with another protocol type: %v", err)
	}
	tp, _ := cat.Topic("t")
	m, err := c.NewConsumer("e", tp)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := c.Join(ctx, joinReq("e", "")); !errors.Is(err, ErrInconsistentProtocol) {
		t.Fatalf("classic join of an embedded group: %v", err)
	}
	short := joinReq("g", "")
	short.SessionTimeout = time.Second
	if _, err := c.Join(ctx, short); !errors.Is(err, ErrInvalidSessionTimeout) {
		t.Fatalf("session timeout below the minimum: %v", err)
	}
}

// TestClassicMemberWithoutSyncIsRemoved: a leader that never sends SyncGroup cannot hold the group: after
// the rebalance timeout it is removed and the rest rebalance without it.
func TestClassicMemberWithoutSyncIsRemoved(t *testing.T) {
	c, _ := testCoordinator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := func(id string) JoinRequest {
		r := joinReq("g", id)
		r.RebalanceTimeout = 200 * time.Millisecond
		return r
	}
	first, err := c.Join(ctx, req(""))
	if !errors.Is(err, ErrMemberIDRequired) {
		t.Fatal(err)
	}
	leader, err := c.Join(ctx, req(first.MemberID))
	if err != nil {
		t.Fatal(err)
	}
	// The leader goes silent. After the rebalance timeout it is gone.
	time.Sleep(400 * time.Millisecond)
	if err := c.Heartbeat("g", leader.MemberID, leader.Generation); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("heartbeat of a leader that never synced: %v", err)
	}
	if d, _ := c.Describe("g"); d.State != StateDead {
		t.Fatalf("describe: %+v", d)
	}
}
