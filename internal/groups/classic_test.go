package groups

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
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

// TestClassicPendingMemberDoesNotHoldRebalance: a member given an id with ErrMemberIDRequired that never
// joins with it is a pending member (KIP-394), not a member: a rebalance does not wait for it. Before,
// it sat in the member list and the first real member's join waited the whole rebalance timeout for it
// (here ten minutes, so the join below ran into its context's deadline).
func TestClassicPendingMemberDoesNotHoldRebalance(t *testing.T) {
	c, _ := testCoordinator(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := func(id string) JoinRequest {
		r := joinReq("g", id)
		r.RebalanceTimeout = 10 * time.Minute
		return r
	}
	// Two clients get ids; one never comes back.
	gone, err := c.Join(ctx, req(""))
	if !errors.Is(err, ErrMemberIDRequired) || gone.MemberID == "" {
		t.Fatalf("first join = %+v, %v", gone, err)
	}
	first, err := c.Join(ctx, req(""))
	if !errors.Is(err, ErrMemberIDRequired) {
		t.Fatal(err)
	}
	if d, _ := c.Describe("g"); d.State != StateEmpty || d.Pending != 2 || len(d.Members) != 0 {
		t.Fatalf("describe with two pending members: %+v", d)
	}
	if l, _ := c.List(); len(l) != 1 || l[0].Group != "g" || l[0].State != StateEmpty || l[0].ProtocolType != "consumer" {
		t.Fatalf("list with pending members only: %+v", l)
	}
	a, err := c.Join(ctx, req(first.MemberID))
	if err != nil {
		t.Fatalf("join of the member that came back, beside one that never does: %v", err)
	}
	if a.Generation != 1 || a.Leader != first.MemberID || len(a.Members) != 1 {
		t.Fatalf("join: %+v", a)
	}
	if d, _ := c.Describe("g"); d.State != StateCompletingRebalance || d.Pending != 1 || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	if err := c.Heartbeat("g", gone.MemberID, 1); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("heartbeat of a pending member: %v", err)
	}
	if _, err := c.Sync(ctx, SyncRequest{Group: "g", MemberID: a.MemberID, Generation: 1, Assignments: map[string][]byte{a.MemberID: []byte("all")}}); err != nil {
		t.Fatal(err)
	}

	// A pending member that does come back joins as a new member: a rebalance, which the leader learns
	// of and joins.
	late, err := c.Join(ctx, req(""))
	if !errors.Is(err, ErrMemberIDRequired) {
		t.Fatal(err)
	}
	if err := c.Heartbeat("g", a.MemberID, 1); err != nil {
		t.Fatalf("a pending member started a rebalance: %v", err)
	}
	var wg sync.WaitGroup
	var b JoinResult
	var bErr error
	wg.Go(func() { b, bErr = c.Join(ctx, req(late.MemberID)) })
	for c.Heartbeat("g", a.MemberID, 1) == nil {
		if ctx.Err() != nil {
			t.Fatal("no rebalance seen by the leader")
		}
		time.Sleep(time.Millisecond)
	}
	a2, err := c.Join(ctx, req(a.MemberID))
	wg.Wait()
	if err != nil || bErr != nil {
		t.Fatal(err, bErr)
	}
	if a2.Generation != 2 || len(a2.Members) != 2 || b.Generation != 2 || b.MemberID != late.MemberID {
		t.Fatalf("rebalance with the pending member that came back: leader %+v, new %+v", a2, b)
	}

	// A pending member can leave (without a rebalance); a second join with its id is then unknown.
	if errs := c.Leave("g", []string{gone.MemberID}, nil); errs[0] != nil {
		t.Fatalf("leave of a pending member: %v", errs[0])
	}
	if d, _ := c.Describe("g"); d.Pending != 0 || d.State != StateCompletingRebalance {
		t.Fatalf("describe after the pending member left: %+v", d)
	}
	if _, err := c.Join(ctx, req(gone.MemberID)); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("join with the id of a pending member that left: %v", err)
	}
}

// TestClassicPendingMemberExpires: a pending member is forgotten after its session timeout (the minimum,
// 6 s: not under -short), and DeleteGroup forgets pending members at once.
func TestClassicPendingMemberExpires(t *testing.T) {
	c, _ := testCoordinator(t)
	ctx := context.Background()
	p, err := c.Join(ctx, joinReq("g", ""))
	if !errors.Is(err, ErrMemberIDRequired) {
		t.Fatal(err)
	}
	if err := c.DeleteGroup("g"); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Describe("g"); d.State != StateDead || d.Pending != 0 {
		t.Fatalf("describe after DeleteGroup: %+v", d)
	}
	if _, err := c.Join(ctx, joinReq("g", p.MemberID)); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("join with the id of a pending member of a deleted group: %v", err)
	}
	if testing.Short() {
		return
	}
	if _, err := c.Join(ctx, joinReq("g", "")); !errors.Is(err, ErrMemberIDRequired) {
		t.Fatal(err)
	}
	for {
		d, _ := c.Describe("g")
		if d.Pending == 0 {
			if d.State != StateDead {
				t.Fatalf("describe after the pending member expired: %+v", d)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if l, _ := c.List(); len(l) != 0 {
		t.Fatalf("list after the pending member expired: %+v", l)
	}
}

// TestClassicUnknownMemberKeepsNoState: a join with a member id that no group knows is UNKNOWN_MEMBER_ID
// and leaves nothing behind. Before, it left an empty group state in the coordinator for every group
// name a client made up, without bound.
func TestClassicUnknownMemberKeepsNoState(t *testing.T) {
	c, _ := testCoordinator(t)
	for i := range 100 {
		if _, err := c.Join(context.Background(), joinReq("g"+strconv.Itoa(i), "made-up")); !errors.Is(err, ErrUnknownMember) {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	n := len(c.mu.groups)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d group states kept after joins with unknown member ids", n)
	}
}
