package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// tryRecv is recv for a goroutine other than the test's: an error instead of t.Fatal.
func (c *client) tryRecv(req kmsg.Request, corr int32) (kmsg.Response, error) {
	body, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() {
		body = body[1:]
	}
	return resp, resp.ReadFrom(body)
}

// async sends req now and receives its response in a goroutine.
func (c *client) async(req kmsg.Request) <-chan kmsg.Response {
	corr := c.send(req)
	out := make(chan kmsg.Response, 1)
	go func() {
		resp, err := c.tryRecv(req, corr)
		if err != nil {
			c.t.Errorf("%s: %v", kmsg.NameForKey(req.Key()), err)
		}
		out <- resp
	}()
	return out
}

func joinReq(version int16, group, member string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID = version, group, member
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 10_000, 60_000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte("meta-"+member)
	req.Protocols = append(req.Protocols, p)
	return req
}

func syncReq(version int16, group, member string, generation int32, assignments map[string]string) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version, req.Group, req.MemberID, req.Generation = version, group, member, generation
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range assignments {
			if !yield(id) {
				return
			}
		}
	}) {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = id, []byte(assignments[id])
		req.GroupAssignment = append(req.GroupAssignment, a)
	}
	return req
}

func heartbeatReq(version int16, group, member string, generation int32) *kmsg.HeartbeatRequest {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.Generation = version, group, member, generation
	return req
}

func commitReq(version int16, group, member string, generation int32, topic string, offsets ...int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.MemberID, req.Generation = version, group, member, generation
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p, off := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = int32(p), off
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// commitCodes returns the error code of every partition of an OffsetCommit response.
func commitCodes(resp *kmsg.OffsetCommitResponse) []int16 {
	var codes []int16
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			codes = append(codes, p.ErrorCode)
		}
	}
	return codes
}

func fetchOffsetsReq(version int16, group, topic string, partitions ...int32) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version, req.Group = version, group
	if topic != "" {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, partitions
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// fetchedOffsets returns the offsets of a v0-7 OffsetFetch response by "topic/partition", failing on a
// partition's error.
func fetchedOffsets(t *testing.T, resp *kmsg.OffsetFetchResponse) map[string]int64 {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("OffsetFetch: error %d", resp.ErrorCode)
	}
	out := map[string]int64{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("OffsetFetch %s/%d: error %d", rt.Topic, p.Partition, p.ErrorCode)
			}
			out[fmt.Sprintf("%s/%d", rt.Topic, p.Partition)] = p.Offset
		}
	}
	return out
}

func createTopic(t *testing.T, db *mqlog.DB, topic string, partitions int) {
	t.Helper()
	if err := db.CreateTopic(topic, mqlog.TopicConfig{Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	for p := 0; p < partitions; p++ {
		for i := 0; i < 10; i++ {
			if _, err := db.AppendPartition(context.Background(), topic, int32(p), mqlog.Message{Value: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestGroupLifecycle walks a group through the newest versions: MEMBER_ID_REQUIRED, a first member
// joining as leader, a second member joining (the first told by its heartbeat to join again), both
// syncing their assignments, commits fenced by generation, OffsetFetch, DescribeGroups, ListGroups, the
// members leaving, and DeleteGroups (NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND after).
func TestGroupLifecycle(t *testing.T) {
	ts := startServer(t, nil)
	createTopic(t, ts.db, "orders", 2)
	a, b := dial(t, ts.addr), dial(t, ts.addr)

	// v4+: a new member is given an id and must join again with it.
	resp := a.do(joinReq(9, "g", "")).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != kerr.MemberIDRequired.Code || resp.MemberID == "" {
		t.Fatalf("first join: error %d, member %q; want MEMBER_ID_REQUIRED with an id", resp.ErrorCode, resp.MemberID)
	}
	idA := resp.MemberID
	resp = a.do(joinReq(9, "g", idA)).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != 0 || resp.Generation != 1 || resp.LeaderID != idA || len(resp.Members) != 1 ||
		deref(resp.Protocol) != "range" || deref(resp.ProtocolType) != "consumer" {
		t.Fatalf("join: %+v", resp)
	}
	if s := a.do(syncReq(5, "g", idA, 1, map[string]string{idA: "all"})).(*kmsg.SyncGroupResponse); s.ErrorCode != 0 || string(s.MemberAssignment) != "all" {
		t.Fatalf("sync: %+v", s)
	}
	if c := commitCodes(a.do(commitReq(8, "g", idA, 1, "orders", 3, 4)).(*kmsg.OffsetCommitResponse)); !slices.Equal(c, []int16{0, 0}) {
		t.Fatalf("commit: %v", c)
	}

	// A second member: its join waits for the rebalance; the first learns of it from its heartbeat.
	resp = b.do(joinReq(9, "g", "")).(*kmsg.JoinGroupResponse)
	idB := resp.MemberID
	joinedB := b.async(joinReq(9, "g", idB))
	for {
		hb := a.do(heartbeatReq(4, "g", idA, 1)).(*kmsg.HeartbeatResponse)
		if hb.ErrorCode == kerr.RebalanceInProgress.Code {
			break
		}
		if hb.ErrorCode != 0 {
			t.Fatalf("heartbeat: %d", hb.ErrorCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A commit of the current generation while the group prepares a rebalance is still accepted, as
	// Kafka accepts it; one of a wrong generation is not.
	if c := commitCodes(a.do(commitReq(8, "g", idA, 1, "orders", 5)).(*kmsg.OffsetCommitResponse)); c[0] != 0 {
		t.Fatalf("commit while preparing a rebalance: %v", c)
	}
	if c := commitCodes(a.do(commitReq(8, "g", idA, 7, "orders", 5)).(*kmsg.OffsetCommitResponse)); c[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit of generation 7: %v, want ILLEGAL_GENERATION", c)
	}
	resp = a.do(joinReq(9, "g", idA)).(*kmsg.JoinGroupResponse)
	respB := <-joinedB
	if respB == nil {
		t.FailNow()
	}
	jb := respB.(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != 0 || jb.ErrorCode != 0 || resp.Generation != 2 || jb.Generation != 2 || resp.LeaderID != idA || len(resp.Members) != 2 || len(jb.Members) != 0 {
		t.Fatalf("rejoin: leader %+v, follower %+v", resp, jb)
	}
	// The follower's sync waits for the leader's.
	syncedB := b.async(syncReq(5, "g", idB, 2, nil))
	if s := a.do(syncReq(5, "g", idA, 2, map[string]string{idA: "p0", idB: "p1"})).(*kmsg.SyncGroupResponse); s.ErrorCode != 0 || string(s.MemberAssignment) != "p0" {
		t.Fatalf("leader sync: %+v", s)
	}
	if s := (<-syncedB).(*kmsg.SyncGroupResponse); s.ErrorCode != 0 || string(s.MemberAssignment) != "p1" {
		t.Fatalf("follower sync: %+v", s)
	}
	if c := commitCodes(a.do(commitReq(8, "g", idA, 1, "orders", 5)).(*kmsg.OffsetCommitResponse)); c[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit of the old generation: %v, want ILLEGAL_GENERATION", c)
	}
	if c := commitCodes(b.do(commitReq(8, "g", "nobody", 2, "orders", 5)).(*kmsg.OffsetCommitResponse)); c[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("commit of an unknown member: %v, want UNKNOWN_MEMBER_ID", c)
	}
	if c := commitCodes(b.do(commitReq(8, "g", "", -1, "orders", 5)).(*kmsg.OffsetCommitResponse)); c[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit to a group with members: %v, want UNKNOWN_MEMBER_ID", c)
	}
	if c := commitCodes(b.do(commitReq(8, "g", idB, 2, "nope", 5)).(*kmsg.OffsetCommitResponse)); c[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("commit to a topic that does not exist: %v", c)
	}
	if c := commitCodes(b.do(commitReq(8, "g", idB, 2, "orders", 0, 7)).(*kmsg.OffsetCommitResponse)); !slices.Equal(c, []int16{0, 0}) {
		t.Fatalf("follower's commit: %v", c)
	}
	if got := fetchedOffsets(t, a.do(fetchOffsetsReq(7, "g", "orders", 0, 1, 5)).(*kmsg.OffsetFetchResponse)); got["orders/0"] != 0 || got["orders/1"] != 7 || got["orders/5"] != -1 {
		t.Fatalf("OffsetFetch: %v", got)
	}
	// The embedded API sees the same group.
	offs, err := ts.db.GroupOffsets("g")
	if err != nil || len(offs) != 2 || offs[1].Offset != 7 {
		t.Fatalf("GroupOffsets: %+v, %v", offs, err)
	}
	d, err := ts.db.DescribeGroup("g")
	if err != nil || d.State != mqlog.GroupStateStable || d.Generation != 2 || len(d.Members) != 2 {
		t.Fatalf("DescribeGroup: %+v, %v", d, err)
	}

	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Version, desc.Groups = 6, []string{"g", "none"}
	dr := a.do(desc).(*kmsg.DescribeGroupsResponse)
	g0, g1 := dr.Groups[0], dr.Groups[1]
	if g0.ErrorCode != 0 || g0.State != "Stable" || g0.Protocol != "range" || len(g0.Members) != 2 ||
		string(g0.Members[1].MemberAssignment) != "p1" || string(g0.Members[0].ProtocolMetadata) != "meta-"+idA || g0.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("DescribeGroups g: %+v", g0)
	}
	if g1.ErrorCode != kerr.GroupIDNotFound.Code || g1.State != "Dead" {
		t.Fatalf("DescribeGroups of a group that does not exist: %+v", g1)
	}
	list := kmsg.NewPtrListGroupsRequest()
	list.Version, list.StatesFilter = 5, []string{"stable"}
	if lr := a.do(list).(*kmsg.ListGroupsResponse); lr.ErrorCode != 0 || len(lr.Groups) != 1 || lr.Groups[0].Group != "g" || lr.Groups[0].GroupState != "Stable" || lr.Groups[0].ProtocolType != "consumer" {
		t.Fatalf("ListGroups: %+v", lr)
	}
	list.StatesFilter = []string{"Empty"}
	if lr := a.do(list).(*kmsg.ListGroupsResponse); len(lr.Groups) != 0 {
		t.Fatalf("ListGroups of Empty groups: %+v", lr)
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 3, []string{"g", "none", ""}
	dg := a.do(del).(*kmsg.DeleteGroupsResponse)
	if codes := []int16{dg.Groups[0].ErrorCode, dg.Groups[1].ErrorCode, dg.Groups[2].ErrorCode}; !slices.Equal(codes, []int16{kerr.NonEmptyGroup.Code, kerr.GroupIDNotFound.Code, kerr.InvalidGroupID.Code}) {
		t.Fatalf("DeleteGroups: %v", codes)
	}

	// The follower leaves; the leader is told to join again and stays alone.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group = 5, "g"
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = idB
	unknown := kmsg.NewLeaveGroupRequestMember()
	unknown.MemberID = "nobody"
	leave.Members = append(leave.Members, m, unknown)
	lr := b.do(leave).(*kmsg.LeaveGroupResponse)
	if lr.ErrorCode != 0 || len(lr.Members) != 2 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("LeaveGroup: %+v", lr)
	}
	if hb := a.do(heartbeatReq(4, "g", idA, 2)).(*kmsg.HeartbeatResponse); hb.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after a leave: %d, want REBALANCE_IN_PROGRESS", hb.ErrorCode)
	}
	if resp = a.do(joinReq(9, "g", idA)).(*kmsg.JoinGroupResponse); resp.ErrorCode != 0 || resp.Generation != 3 || len(resp.Members) != 1 {
		t.Fatalf("join alone: %+v", resp)
	}
	old := kmsg.NewPtrLeaveGroupRequest()
	old.Version, old.Group, old.MemberID = 0, "g", idA
	if lr := a.do(old).(*kmsg.LeaveGroupResponse); lr.ErrorCode != 0 {
		t.Fatalf("LeaveGroup v0: %d", lr.ErrorCode)
	}
	del.Groups = []string{"g"}
	if dg := a.do(del).(*kmsg.DeleteGroupsResponse); dg.Groups[0].ErrorCode != 0 {
		t.Fatalf("DeleteGroups of the empty group: %d", dg.Groups[0].ErrorCode)
	}
	if offs, err := ts.db.GroupOffsets("g"); err != nil || len(offs) != 0 {
		t.Fatalf("offsets after DeleteGroups: %+v, %v", offs, err)
	}
}

// TestGroupOldVersions: the versions old clients pin (kafka-go: OffsetCommit v2, SyncGroup v0, LeaveGroup
// v0; kafka-python: JoinGroup v0, OffsetFetch v1, OffsetCommit v0 for a simple commit).
func TestGroupOldVersions(t *testing.T) {
	ts := startServer(t, nil)
	createTopic(t, ts.db, "t", 1)
	c := dial(t, ts.addr)
	// JoinGroup below v4 gives a new member its id at once; v0 has no rebalance timeout.
	join := joinReq(0, "old", "")
	resp := c.do(join).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != 0 || resp.MemberID == "" || resp.Generation != 1 || len(resp.Members) != 1 {
		t.Fatalf("JoinGroup v0: %+v", resp)
	}
	id := resp.MemberID
	if s := c.do(syncReq(0, "old", id, 1, map[string]string{id: "a"})).(*kmsg.SyncGroupResponse); s.ErrorCode != 0 || string(s.MemberAssignment) != "a" {
		t.Fatalf("SyncGroup v0: %+v", s)
	}
	if hb := c.do(heartbeatReq(0, "old", id, 1)).(*kmsg.HeartbeatResponse); hb.ErrorCode != 0 {
		t.Fatalf("Heartbeat v0: %d", hb.ErrorCode)
	}
	if codes := commitCodes(c.do(commitReq(2, "old", id, 1, "t", 6)).(*kmsg.OffsetCommitResponse)); codes[0] != 0 {
		t.Fatalf("OffsetCommit v2: %v", codes)
	}
	if got := fetchedOffsets(t, c.do(fetchOffsetsReq(1, "old", "t", 0)).(*kmsg.OffsetFetchResponse)); got["t/0"] != 6 {
		t.Fatalf("OffsetFetch v1: %v", got)
	}
	// OffsetCommit v0 (no generation, no member) is a simple commit: refused while the group has a member.
	if codes := commitCodes(c.do(commitReq(0, "old", "", 0, "t", 8)).(*kmsg.OffsetCommitResponse)); codes[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("OffsetCommit v0 to a group with a member: %v", codes)
	}
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group, leave.MemberID = 0, "old", id
	if lr := c.do(leave).(*kmsg.LeaveGroupResponse); lr.ErrorCode != 0 {
		t.Fatalf("LeaveGroup v0: %d", lr.ErrorCode)
	}
	if codes := commitCodes(c.do(commitReq(0, "old", "", 0, "t", 8)).(*kmsg.OffsetCommitResponse)); codes[0] != 0 {
		t.Fatalf("OffsetCommit v0 to the empty group: %v", codes)
	}
	// A simple commit with generation -1 (kcat's and the admin tools'), to a group never joined.
	if codes := commitCodes(c.do(commitReq(7, "tool", "", -1, "t", 9)).(*kmsg.OffsetCommitResponse)); codes[0] != 0 {
		t.Fatalf("simple commit: %v", codes)
	}
	if codes := commitCodes(c.do(commitReq(7, "tool", "", 3, "t", 9)).(*kmsg.OffsetCommitResponse)); codes[0] != kerr.IllegalGeneration.Code {
		t.Fatalf("commit of generation 3 to a group without members: %v", codes)
	}
	// OffsetFetch v0 reads the same offsets.
	if got := fetchedOffsets(t, c.do(fetchOffsetsReq(0, "old", "t", 0)).(*kmsg.OffsetFetchResponse)); got["t/0"] != 8 {
		t.Fatalf("OffsetFetch v0: %v", got)
	}
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups = []string{"old", "none"} // v0: a group that does not exist is Dead, without an error
	dr := c.do(desc).(*kmsg.DescribeGroupsResponse)
	if dr.Groups[0].State != "Empty" || dr.Groups[1].State != "Dead" || dr.Groups[1].ErrorCode != 0 {
		t.Fatalf("DescribeGroups v0: %+v", dr)
	}
	if lr := c.do(kmsg.NewPtrListGroupsRequest()).(*kmsg.ListGroupsResponse); len(lr.Groups) != 2 {
		t.Fatalf("ListGroups v0: %+v", lr)
	}
}

// TestGroupErrors: each of the coordinator's refusals as its Kafka error code.
func TestGroupErrors(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	join := joinReq(5, "g", "")
	join.SessionTimeoutMillis = 100
	if resp := c.do(join).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("short session: %d, want INVALID_SESSION_TIMEOUT", resp.ErrorCode)
	}
	if resp := c.do(joinReq(5, "", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group: %d, want INVALID_GROUP_ID", resp.ErrorCode)
	}
	if resp := c.do(joinReq(5, "g", "made-up")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("made-up member: %d, want UNKNOWN_MEMBER_ID", resp.ErrorCode)
	}
	noProtocols := joinReq(5, "g", "")
	noProtocols.Protocols = nil
	if resp := c.do(noProtocols).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("no protocols: %d, want INCONSISTENT_GROUP_PROTOCOL", resp.ErrorCode)
	}
	resp := c.do(joinReq(3, "g", "")).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != 0 {
		t.Fatal(resp.ErrorCode)
	}
	other := joinReq(5, "g", "")
	other.Protocols[0].Name = "roundrobin"
	if r := c.do(other).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("another protocol: %d, want INCONSISTENT_GROUP_PROTOCOL", r.ErrorCode)
	}
	if hb := c.do(heartbeatReq(4, "g", resp.MemberID, 9)).(*kmsg.HeartbeatResponse); hb.ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat of generation 9: %d", hb.ErrorCode)
	}
	if hb := c.do(heartbeatReq(4, "g", "nobody", 1)).(*kmsg.HeartbeatResponse); hb.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of nobody: %d", hb.ErrorCode)
	}
	if s := c.do(syncReq(3, "g", resp.MemberID, 4, nil)).(*kmsg.SyncGroupResponse); s.ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("sync of generation 4: %d", s.ErrorCode)
	}
	// A group of embedded Consumers: no Kafka member joins it, and tools see its members.
	createTopic(t, ts.db, "t", 2)
	cons, err := ts.db.Consumer("t", "embedded")
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	if r := c.do(joinReq(5, "embedded", "")).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("join of an embedded group: %d, want INCONSISTENT_GROUP_PROTOCOL", r.ErrorCode)
	}
	if codes := commitCodes(c.do(commitReq(8, "embedded", "", -1, "t", 1)).(*kmsg.OffsetCommitResponse)); codes[0] != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit to an embedded group: %v, want UNKNOWN_MEMBER_ID", codes)
	}
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Version, desc.Groups = 5, []string{"embedded"}
	g := c.do(desc).(*kmsg.DescribeGroupsResponse).Groups[0]
	if g.ErrorCode != 0 || g.State != "Stable" || g.ProtocolType != "mqlog" || len(g.Members) != 1 {
		t.Fatalf("DescribeGroups of an embedded group: %+v", g)
	}
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(g.Members[0].MemberAssignment); err != nil || len(a.Topics) != 1 || a.Topics[0].Topic != "t" || !slices.Equal(a.Topics[0].Partitions, []int32{0, 1}) {
		t.Fatalf("embedded member's assignment: %+v, %v", a, err)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"embedded"}
	if dg := c.do(del).(*kmsg.DeleteGroupsResponse); dg.Groups[0].ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("DeleteGroups of an embedded group: %d", dg.Groups[0].ErrorCode)
	}
}

// TestStaticMember: a member with group.instance.id (JoinGroup v5+) is not asked for MEMBER_ID_REQUIRED,
// and joining again after a restart of the client (no member id, the same instance id) gets its place
// back, its assignment unchanged, without a rebalance; LeaveGroup by instance id takes it out.
func TestStaticMember(t *testing.T) {
	ts := startServer(t, nil)
	leaderConn, c := dial(t, ts.addr), dial(t, ts.addr)
	leader := c.do(joinReq(9, "s", "")).(*kmsg.JoinGroupResponse) // (a dynamic leader)
	leader = c.do(joinReq(9, "s", leader.MemberID)).(*kmsg.JoinGroupResponse)
	c.do(syncReq(5, "s", leader.MemberID, 1, map[string]string{leader.MemberID: "x"}))
	_ = leaderConn

	static := joinReq(9, "s", "")
	instance := "worker-1"
	static.InstanceID = &instance
	joined := c.async(static)
	for {
		hb := leaderConn.do(heartbeatReq(4, "s", leader.MemberID, 1)).(*kmsg.HeartbeatResponse)
		if hb.ErrorCode == kerr.RebalanceInProgress.Code {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	leader = leaderConn.do(joinReq(9, "s", leader.MemberID)).(*kmsg.JoinGroupResponse)
	j := (<-joined).(*kmsg.JoinGroupResponse)
	if j.ErrorCode != 0 || j.MemberID == "" || j.Generation != 2 {
		t.Fatalf("static join: %+v", j)
	}
	if len(leader.Members) != 2 || deref(leader.Members[1].InstanceID) != instance {
		t.Fatalf("leader's view: %+v", leader.Members)
	}
	synced := c.async(syncReq(5, "s", j.MemberID, 2, nil))
	leaderConn.do(syncReq(5, "s", leader.MemberID, 2, map[string]string{leader.MemberID: "x", j.MemberID: "y"}))
	if s := (<-synced).(*kmsg.SyncGroupResponse); string(s.MemberAssignment) != "y" {
		t.Fatalf("static member's assignment: %+v", s)
	}
	// The client restarts: no member id, the same instance id.
	again := c.do(static).(*kmsg.JoinGroupResponse)
	if again.ErrorCode != 0 || again.MemberID != j.MemberID || again.Generation != 2 {
		t.Fatalf("static member back: %+v, want member %s in generation 2", again, j.MemberID)
	}
	if s := c.do(syncReq(5, "s", j.MemberID, 2, nil)).(*kmsg.SyncGroupResponse); string(s.MemberAssignment) != "y" {
		t.Fatalf("static member's assignment after its restart: %+v", s)
	}
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group = 4, "s"
	m := kmsg.NewLeaveGroupRequestMember()
	m.InstanceID = &instance
	leave.Members = append(leave.Members, m)
	if lr := c.do(leave).(*kmsg.LeaveGroupResponse); lr.Members[0].ErrorCode != 0 {
		t.Fatalf("leave by instance id: %+v", lr)
	}
	d, _ := ts.db.DescribeGroup("s")
	if len(d.Members) != 1 {
		t.Fatalf("members after the static member left: %+v", d.Members)
	}
}

// TestJoinEndsOnShutdown: a JoinGroup waiting for a rebalance (whose timeout is long) does not hold up
// the server's shutdown: Serve returns, the join is answered or its connection closed.
func TestJoinEndsOnShutdown(t *testing.T) {
	ts := startServer(t, nil)
	a, b := dial(t, ts.addr), dial(t, ts.addr)
	long := joinReq(4, "g", "")
	long.SessionTimeoutMillis = 120_000 // the first member stays however long the test takes
	first := a.do(long).(*kmsg.JoinGroupResponse)
	long.MemberID = first.MemberID
	first = a.do(long).(*kmsg.JoinGroupResponse)
	if first.ErrorCode != 0 {
		t.Fatal(first.ErrorCode)
	}
	second := b.do(joinReq(4, "g", "")).(*kmsg.JoinGroupResponse)
	join := joinReq(4, "g", second.MemberID)
	join.RebalanceTimeoutMillis = 10 * 60_000
	corr := b.send(join) // waits for the first member, which will not join again
	// The join is in the coordinator once the group prepares a rebalance.
	for {
		if d, _ := ts.db.DescribeGroup("g"); d.State == mqlog.GroupStatePreparingRebalance {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.stop(t) // fails the test if Serve does not return
	if resp, err := b.tryRecv(join, corr); err == nil && resp.(*kmsg.JoinGroupResponse).ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join answered with %d at shutdown, want COORDINATOR_NOT_AVAILABLE", resp.(*kmsg.JoinGroupResponse).ErrorCode)
	}
}

// TestOffsetFetchForms: OffsetFetch of every topic (null topics, v2+), of several groups at once (v8+),
// and by topic id (v10), with OffsetCommit v10 by topic id.
func TestOffsetFetchForms(t *testing.T) {
	ts := startServer(t, nil)
	createTopic(t, ts.db, "a", 2)
	createTopic(t, ts.db, "b", 1)
	c := dial(t, ts.addr)
	for _, cm := range []struct {
		group, topic string
		offsets      []int64
	}{{"g1", "a", []int64{1, 2}}, {"g1", "b", []int64{3}}, {"g2", "a", []int64{4}}} {
		if codes := commitCodes(c.do(commitReq(9, cm.group, "", -1, cm.topic, cm.offsets...)).(*kmsg.OffsetCommitResponse)); slices.ContainsFunc(codes, func(c int16) bool { return c != 0 }) {
			t.Fatalf("commit %+v: %v", cm, codes)
		}
	}
	all := fetchOffsetsReq(7, "g1", "")
	if got := fetchedOffsets(t, c.do(all).(*kmsg.OffsetFetchResponse)); len(got) != 3 || got["a/0"] != 1 || got["a/1"] != 2 || got["b/0"] != 3 {
		t.Fatalf("OffsetFetch of every topic: %v", got)
	}

	multi := kmsg.NewPtrOffsetFetchRequest()
	multi.Version = 8
	g1 := kmsg.NewOffsetFetchRequestGroup()
	g1.Group = "g1" // null topics: all
	g2 := kmsg.NewOffsetFetchRequestGroup()
	g2.Group = "g2"
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = "a", []int32{0, 1}
	g2.Topics = append(g2.Topics, gt)
	g3 := kmsg.NewOffsetFetchRequestGroup()
	g3.Group = ""
	multi.Groups = append(multi.Groups, g1, g2, g3)
	mr := c.do(multi).(*kmsg.OffsetFetchResponse)
	if len(mr.Groups) != 3 || mr.Groups[0].ErrorCode != 0 || len(mr.Groups[0].Topics) != 2 || mr.Groups[2].ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("OffsetFetch v8: %+v", mr)
	}
	p := mr.Groups[1].Topics[0].Partitions
	if mr.Groups[1].ErrorCode != 0 || len(p) != 2 || p[0].Offset != 4 || p[1].Offset != -1 {
		t.Fatalf("OffsetFetch v8 of g2: %+v", mr.Groups[1])
	}

	// v10: by topic id.
	id := ts.srv.ids.of("a")
	commit := commitReq(10, "g3", "", -1, "", 5, 6)
	commit.Topics[0].TopicID = id
	unknownTopic := kmsg.NewOffsetCommitRequestTopic()
	unknownTopic.TopicID = [16]byte{1}
	unknownTopic.Partitions = append(unknownTopic.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
	commit.Topics = append(commit.Topics, unknownTopic)
	if codes := commitCodes(c.do(commit).(*kmsg.OffsetCommitResponse)); !slices.Equal(codes, []int16{0, 0, kerr.UnknownTopicID.Code}) {
		t.Fatalf("OffsetCommit v10: %v", codes)
	}
	byID := kmsg.NewPtrOffsetFetchRequest()
	byID.Version = 10
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = "g3"
	it := kmsg.NewOffsetFetchRequestGroupTopic()
	it.TopicID, it.Partitions = id, []int32{0, 1}
	g.Topics = append(g.Topics, it)
	allOf := kmsg.NewOffsetFetchRequestGroup()
	allOf.Group = "g3"
	byID.Groups = append(byID.Groups, g, allOf)
	br := c.do(byID).(*kmsg.OffsetFetchResponse)
	for i, rg := range br.Groups {
		if rg.ErrorCode != 0 || len(rg.Topics) != 1 || rg.Topics[0].TopicID != id || len(rg.Topics[0].Partitions) != 2 ||
			rg.Topics[0].Partitions[0].Offset != 5 || rg.Topics[0].Partitions[1].Offset != 6 {
			t.Fatalf("OffsetFetch v10, group %d: %+v", i, rg)
		}
	}
}

// TestGroupOffsetsSurviveRestart: offsets committed over the protocol are there after the server and the
// DB are closed and opened again; a member of the old server's group is unknown to the new one.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerOn(t, db, nil)
	createTopic(t, db, "t", 1)
	c := dial(t, ts.addr)
	j := c.do(joinReq(3, "g", "")).(*kmsg.JoinGroupResponse)
	c.do(syncReq(3, "g", j.MemberID, j.Generation, map[string]string{j.MemberID: "x"}))
	if codes := commitCodes(c.do(commitReq(8, "g", j.MemberID, j.Generation, "t", 7)).(*kmsg.OffsetCommitResponse)); codes[0] != 0 {
		t.Fatalf("commit: %v", codes)
	}
	ts.stop(t)

	db, err = mqlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts = startServerOn(t, db, nil)
	c = dial(t, ts.addr)
	if hb := c.do(heartbeatReq(4, "g", j.MemberID, j.Generation)).(*kmsg.HeartbeatResponse); hb.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of the old member: %d, want UNKNOWN_MEMBER_ID", hb.ErrorCode)
	}
	if got := fetchedOffsets(t, c.do(fetchOffsetsReq(5, "g", "t", 0)).(*kmsg.OffsetFetchResponse)); got["t/0"] != 7 {
		t.Fatalf("after the restart: %v", got)
	}
	// And the embedded API reads from there.
	cons, err := db.Consumer("t", "g")
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := cons.Next(ctx)
	if err != nil || rec.Offset != 7 {
		t.Fatalf("embedded consumer after the restart: offset %d, %v; want 7", rec.Offset, err)
	}
}

// TestFollowerRejoinWithNewMetadataRebalances: a follower of a Stable group that joins again with other
// metadata starts a rebalance, as Kafka's coordinator does (it compares the protocols' metadata). The
// cooperative-sticky assignor depends on it: a follower that gave up partitions in the first of its two
// rebalances joins again with its owned partitions changed, and only the rebalance that follows hands
// those partitions to their new owner. Answered with the current generation instead, they stayed
// unassigned. A follower joining again with the same metadata still gets the current generation.
func TestFollowerRejoinWithNewMetadataRebalances(t *testing.T) {
	ts := startServer(t, nil)
	a, b := dial(t, ts.addr), dial(t, ts.addr)
	ja := a.do(joinReq(3, "g", "")).(*kmsg.JoinGroupResponse)
	idA := ja.MemberID
	a.do(syncReq(3, "g", idA, 1, map[string]string{idA: "all"}))
	joinedB := b.async(joinReq(3, "g", ""))
	waitRebalance := func(generation int32) {
		t.Helper()
		for {
			hb := a.do(heartbeatReq(3, "g", idA, generation)).(*kmsg.HeartbeatResponse)
			if hb.ErrorCode == kerr.RebalanceInProgress.Code {
				return
			}
			if hb.ErrorCode != 0 {
				t.Fatalf("heartbeat: %d", hb.ErrorCode)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitRebalance(1)
	a.do(joinReq(3, "g", idA))
	jb := (<-joinedB).(*kmsg.JoinGroupResponse)
	idB := jb.MemberID
	syncedB := b.async(syncReq(3, "g", idB, 2, nil))
	a.do(syncReq(3, "g", idA, 2, map[string]string{idA: "p0", idB: "p1"}))
	<-syncedB

	same := joinReq(3, "g", idB)
	same.Protocols[0].Metadata = []byte("meta-") // the metadata of its last join (made without an id)
	if r := b.do(same).(*kmsg.JoinGroupResponse); r.ErrorCode != 0 || r.Generation != 2 {
		t.Fatalf("follower joining again unchanged: %+v, want generation 2 at once", r)
	}
	changed := joinReq(3, "g", idB)
	changed.Protocols[0].Metadata = []byte("owned partitions changed")
	joinedB = b.async(changed)
	waitRebalance(2) // before the fix: never, b got generation 2 back
	a.do(joinReq(3, "g", idA))
	if r := (<-joinedB).(*kmsg.JoinGroupResponse); r.ErrorCode != 0 || r.Generation != 3 {
		t.Fatalf("follower joining again with new metadata: %+v, want generation 3", r)
	}
}

// TestGroupFailBuilders: every group key's error response (what a version outside its range is answered
// with) carries the code in every part the request named, or at its top for the keys without parts.
func TestGroupFailBuilders(t *testing.T) {
	ts := startServer(t, nil)
	code := kerr.UnsupportedVersion.Code
	instance := "i"
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID, lm.InstanceID = "m", &instance
	leave.Members = append(leave.Members, lm)
	fetchV1 := fetchOffsetsReq(1, "g", "t", 0, 1)
	fetchV8 := kmsg.NewPtrOffsetFetchRequest()
	fetchV8.Version = 8
	fg := kmsg.NewOffsetFetchRequestGroup()
	fg.Group = "g"
	fetchV8.Groups = append(fetchV8.Groups, fg)
	desc := kmsg.NewPtrDescribeGroupsRequest()
	desc.Groups = []string{"a", "b"}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 3, []string{"a", "b"}

	codes := func(resp kmsg.Response) []int16 {
		var out []int16
		switch r := resp.(type) {
		case *kmsg.LeaveGroupResponse:
			out = append(out, r.ErrorCode)
			for _, m := range r.Members {
				out = append(out, m.ErrorCode)
			}
		case *kmsg.OffsetCommitResponse:
			out = commitCodes(r)
		case *kmsg.OffsetFetchResponse:
			for _, rt := range r.Topics {
				for _, p := range rt.Partitions {
					out = append(out, p.ErrorCode)
				}
			}
			for _, g := range r.Groups {
				out = append(out, g.ErrorCode)
			}
		case *kmsg.DescribeGroupsResponse:
			for _, g := range r.Groups {
				out = append(out, g.ErrorCode)
			}
		case *kmsg.DeleteGroupsResponse:
			for _, g := range r.Groups {
				out = append(out, g.ErrorCode)
			}
		case *kmsg.JoinGroupResponse:
			out = append(out, r.ErrorCode)
		case *kmsg.SyncGroupResponse:
			out = append(out, r.ErrorCode)
		case *kmsg.HeartbeatResponse:
			out = append(out, r.ErrorCode)
		case *kmsg.ListGroupsResponse:
			out = append(out, r.ErrorCode)
		}
		return out
	}
	for _, c := range []struct {
		req  kmsg.Request
		want int
	}{
		{leave, 2}, {commitReq(2, "g", "m", 1, "t", 1, 2, 3), 3}, {fetchV1, 2}, {fetchV8, 1}, {desc, 2}, {del, 2},
		{joinReq(9, "g", ""), 1}, {syncReq(5, "g", "m", 1, nil), 1}, {heartbeatReq(4, "g", "m", 1), 1}, {kmsg.NewPtrListGroupsRequest(), 1},
	} {
		resp := errorResponse(ts.srv.apis[c.req.Key()], c.req, code)
		got := codes(resp)
		if len(got) != c.want || slices.ContainsFunc(got, func(g int16) bool { return g != code }) {
			t.Errorf("%s: codes %v, want %d times %d", kmsg.NameForKey(c.req.Key()), got, c.want, code)
		}
		if resp.GetVersion() != c.req.GetVersion() {
			t.Errorf("%s: response v%d to a request v%d", kmsg.NameForKey(c.req.Key()), resp.GetVersion(), c.req.GetVersion())
		}
		resp.AppendTo(nil) // encodes
	}
}

// TestGroupLimits: a client cannot make the coordinator keep without bound: members over
// MaxGroupMembers get GROUP_MAX_SIZE_REACHED (one only given an id counts; a static member coming back
// still gets its place), and a JoinGroup whose metadata is over MaxGroupMetadataBytes INVALID_REQUEST,
// with a log line.
func TestGroupLimits(t *testing.T) {
	ts := startServer(t, &Options{MaxGroupMembers: 1, MaxGroupMetadataBytes: 100})
	c := dial(t, ts.addr)
	instance := "static"
	static := joinReq(5, "g", "")
	static.InstanceID = &instance
	resp := c.do(static).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("static join: %d", resp.ErrorCode)
	}
	c.do(syncReq(5, "g", resp.MemberID, resp.Generation, map[string]string{resp.MemberID: "x"}))
	if resp := c.do(joinReq(4, "g", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("second member: %d, want GROUP_MAX_SIZE_REACHED", resp.ErrorCode)
	}
	if resp := c.do(static).(*kmsg.JoinGroupResponse); resp.ErrorCode != 0 {
		t.Fatalf("static member back in a full group: %d", resp.ErrorCode)
	}
	if resp := c.do(joinReq(4, "p", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first member of p: %d", resp.ErrorCode)
	}
	if resp := c.do(joinReq(4, "p", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("second member of p, the first only given an id: %d, want GROUP_MAX_SIZE_REACHED", resp.ErrorCode)
	}
	big := joinReq(4, "h", "")
	big.Protocols[0].Metadata = make([]byte, 200)
	if resp := c.do(big).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("metadata over the limit: %d, want INVALID_REQUEST", resp.ErrorCode)
	}
	ts.log.waitLog(t, "protocol metadata over the limit")
}

// TestMaxGroups: clients cannot make groups exist without bound: a JoinGroup of a new member or an
// OffsetCommit from outside a group naming a new group, while MaxGroups exist, is GROUP_MAX_SIZE_REACHED
// with a log line; groups that exist go on as before, and DeleteGroups makes room again.
func TestMaxGroups(t *testing.T) {
	ts := startServer(t, &Options{MaxGroups: 2})
	createTopic(t, ts.db, "t", 1)
	c := dial(t, ts.addr)
	// Group a exists through a pending member, group b through a commit from outside.
	if resp := c.do(joinReq(4, "a", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first member of a: %d", resp.ErrorCode)
	}
	if codes := commitCodes(c.do(commitReq(2, "b", "", -1, "t", 1)).(*kmsg.OffsetCommitResponse)); codes[0] != 0 {
		t.Fatalf("commit creating b: %v", codes)
	}
	// A third group, either way, is refused.
	if resp := c.do(joinReq(4, "c", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("join creating a third group: %d, want GROUP_MAX_SIZE_REACHED", resp.ErrorCode)
	}
	ts.log.waitLog(t, "JoinGroup refused: it would create a group over the limit")
	if resp := c.do(joinReq(0, "c", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("join v0 creating a third group: %d, want GROUP_MAX_SIZE_REACHED", resp.ErrorCode)
	}
	if codes := commitCodes(c.do(commitReq(2, "c", "", -1, "t", 1)).(*kmsg.OffsetCommitResponse)); codes[0] != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("commit creating a third group: %v, want GROUP_MAX_SIZE_REACHED", codes)
	}
	ts.log.waitLog(t, "OffsetCommit refused: it would create a group over the limit")
	if off, ok, err := ts.db.FetchGroupOffset("c", "t", 0); err != nil || ok {
		t.Fatalf("refused commit stored %d, %v, %v", off, ok, err)
	}
	// The groups that exist go on.
	if codes := commitCodes(c.do(commitReq(2, "b", "", -1, "t", 2)).(*kmsg.OffsetCommitResponse)); codes[0] != 0 {
		t.Fatalf("commit to b: %v", codes)
	}
	if resp := c.do(joinReq(4, "a", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("second member of a: %d", resp.ErrorCode)
	}
	// Deleting b makes room for c.
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 2, []string{"b"}
	if resp := c.do(del).(*kmsg.DeleteGroupsResponse); resp.Groups[0].ErrorCode != 0 {
		t.Fatalf("delete b: %d", resp.Groups[0].ErrorCode)
	}
	if resp := c.do(joinReq(4, "c", "")).(*kmsg.JoinGroupResponse); resp.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("join creating c after b was deleted: %d", resp.ErrorCode)
	}
}
