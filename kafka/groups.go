package kafka

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/mqlog/mqlog"
	"github.com/mqlog/mqlog/wal"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group coordinator's keys: Kafka's classic group protocol over DB.JoinGroup, SyncGroup,
// HeartbeatGroup, LeaveGroup, DescribeGroup, ListGroups and DeleteGroup (offsets.go has OffsetCommit and
// OffsetFetch). The coordinator itself runs in the DB (internal/groups): the groups a client joins here
// are the ones the embedded API and `mqlog groups` see. This file only translates.

// API keys of the group coordinator.
const (
	offsetCommitKey   int16 = 8
	offsetFetchKey    int16 = 9
	joinGroupKey      int16 = 11
	heartbeatKey      int16 = 12
	leaveGroupKey     int16 = 13
	syncGroupKey      int16 = 14
	describeGroupsKey int16 = 15
	listGroupsKey     int16 = 16
	deleteGroupsKey   int16 = 42
)

// registerGroups adds the group coordinator's keys to t. Every range starts at 0: kafka-go pins
// OffsetCommit v2, SyncGroup v0 and LeaveGroup v0, kafka-python sends v0 and v1 of several.
func (s *Server) registerGroups(t apiTable) {
	t[joinGroupKey] = api{min: 0, max: 9, handle: s.joinGroup}
	t[syncGroupKey] = api{min: 0, max: 5, handle: s.syncGroup}
	t[heartbeatKey] = api{min: 0, max: 4, handle: s.heartbeat}
	t[leaveGroupKey] = api{min: 0, max: 5, handle: s.leaveGroup, fail: failLeaveGroup}
	t[offsetCommitKey] = api{min: 0, max: 10, handle: s.offsetCommit, fail: failOffsetCommit}
	t[offsetFetchKey] = api{min: 0, max: 10, handle: s.offsetFetch, fail: failOffsetFetch}
	t[describeGroupsKey] = api{min: 0, max: 6, handle: s.describeGroups, fail: failDescribeGroups}
	t[listGroupsKey] = api{min: 0, max: 5, handle: s.listGroups}
	t[deleteGroupsKey] = api{min: 0, max: 3, handle: s.deleteGroups, fail: failDeleteGroups}
}

// groupErrorCode maps an error of the group coordinator to Kafka's code. A DB closing under the request
// (the server stopping) is COORDINATOR_NOT_AVAILABLE, which sends the client back to FindCoordinator.
func (s *Server) groupErrorCode(r *request, what string, err error) int16 {
	switch {
	case err == nil:
		return 0
	case isNotLeader(err): // replication.go
		return kerr.NotCoordinator.Code
	case errors.Is(err, mqlog.ErrMemberIDRequired):
		return kerr.MemberIDRequired.Code
	case errors.Is(err, mqlog.ErrUnknownMember):
		return kerr.UnknownMemberID.Code
	case errors.Is(err, mqlog.ErrIllegalGeneration):
		return kerr.IllegalGeneration.Code
	case errors.Is(err, mqlog.ErrRebalanceInProgress):
		return kerr.RebalanceInProgress.Code
	case errors.Is(err, mqlog.ErrInconsistentGroupProtocol):
		return kerr.InconsistentGroupProtocol.Code
	case errors.Is(err, mqlog.ErrInvalidSessionTimeout):
		return kerr.InvalidSessionTimeout.Code
	case errors.Is(err, mqlog.ErrInvalidGroup):
		return kerr.InvalidGroupID.Code
	case errors.Is(err, mqlog.ErrGroupActive):
		return kerr.NonEmptyGroup.Code
	case errors.Is(err, mqlog.ErrClosed), errors.Is(err, wal.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return kerr.CoordinatorNotAvailable.Code
	}
	return s.errorCode(r, what, err)
}

// millis converts a request's milliseconds.
func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// clientHost is a member's host as Kafka shows it: "/" and the address the connection came from.
func clientHost(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return "/" + host
	}
	return "/" + remote
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// joinGroup handles a JoinGroup: it waits, in its own goroutine, for the rebalance it starts or joins to
// complete (the connection's reader goes on reading; the responses behind it wait, as Kafka's do), until
// the rebalance timeout at most, or until the connection or the server closes. A new member of v4+ is
// given an id with MEMBER_ID_REQUIRED; a static member (v5+, group.instance.id) keeps its place.
func (s *Server) joinGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.JoinGroupRequest)
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation, resp.MemberID = -1, req.MemberID
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		resp.ErrorCode = kerr.InconsistentGroupProtocol.Code
		return resp, nil
	}
	metadata := 0
	for _, p := range req.Protocols {
		metadata += len(p.Name) + len(p.Metadata)
	}
	if metadata > s.opts.MaxGroupMetadataBytes {
		r.c.log.Warn("kafka: JoinGroup refused: protocol metadata over the limit", "group", req.Group, "bytes", metadata, "limit", s.opts.MaxGroupMetadataBytes)
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	if req.MemberID == "" {
		d, err := s.db.DescribeGroup(req.Group)
		if err == nil && len(d.Members)+d.Pending >= s.opts.MaxGroupMembers && !hasInstance(d, deref(req.InstanceID)) {
			resp.ErrorCode = kerr.GroupMaxSizeReached.Code
			return resp, nil
		}
		if err == nil && s.newGroupRefused(r, "JoinGroup", d) {
			resp.ErrorCode = kerr.GroupMaxSizeReached.Code
			return resp, nil
		}
	}
	jr := mqlog.GroupJoinRequest{
		Group:                req.Group,
		MemberID:             req.MemberID,
		InstanceID:           deref(req.InstanceID),
		ClientID:             r.clientID,
		ClientHost:           clientHost(r.c.remote),
		ProtocolType:         req.ProtocolType,
		SessionTimeout:       millis(req.SessionTimeoutMillis),
		RebalanceTimeout:     millis(req.RebalanceTimeoutMillis),
		RequireKnownMemberID: req.Version >= 4,
	}
	if req.Version < 1 { // no rebalance timeout: the session timeout serves as one
		jr.RebalanceTimeout = jr.SessionTimeout
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, mqlog.GroupProtocol{Name: p.Name, Metadata: p.Metadata})
	}
	res, err := s.db.JoinGroup(ctx, jr)
	if res.MemberID != "" {
		resp.MemberID = res.MemberID
	}
	if err != nil {
		resp.ErrorCode = s.groupErrorCode(r, "JoinGroup", err)
		return resp, nil
	}
	resp.Generation, resp.LeaderID = res.Generation, res.Leader
	resp.Protocol = &res.Protocol
	if req.Version >= 7 {
		resp.ProtocolType = &res.ProtocolType
	}
	for _, m := range res.Members {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID, rm.ProtocolMetadata = m.MemberID, m.Metadata
		if m.InstanceID != "" {
			rm.InstanceID = &m.InstanceID
		}
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}

// newGroupRefused reports whether d is of a group that does not exist (Dead) while Options.MaxGroups
// groups do, so that the request would make one too many; it logs the refusal. Only a request that
// would create a group pays the listing of the groups.
func (s *Server) newGroupRefused(r *request, what string, d mqlog.GroupDescription) bool {
	if d.State != mqlog.GroupStateDead {
		return false
	}
	groups, err := s.db.ListGroups()
	if err != nil || len(groups) < s.opts.MaxGroups {
		return false // an error is the request's own to meet
	}
	r.c.log.Warn("kafka: "+what+" refused: it would create a group over the limit", "group", d.Group, "groups", len(groups), "limit", s.opts.MaxGroups)
	return true
}

// hasInstance reports whether d has a static member of instance id (which a join with it takes the place
// of, adding none).
func hasInstance(d mqlog.GroupDescription, instance string) bool {
	for _, m := range d.Members {
		if instance != "" && m.InstanceID == instance {
			return true
		}
	}
	return false
}

// syncGroup handles a SyncGroup: the leader's hands every member its assignment; a follower's waits for
// it (bounded by the rebalance timeout, after which the members that did not sync are removed).
func (s *Server) syncGroup(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	sr := mqlog.GroupSyncRequest{
		Group:        req.Group,
		MemberID:     req.MemberID,
		Generation:   req.Generation,
		ProtocolType: deref(req.ProtocolType),
		Protocol:     deref(req.Protocol),
	}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
	}
	res, err := s.db.SyncGroup(ctx, sr)
	if err != nil {
		resp.ErrorCode = s.groupErrorCode(r, "SyncGroup", err)
		return resp, nil
	}
	resp.MemberAssignment = res.Assignment
	if req.Version >= 5 {
		resp.ProtocolType, resp.Protocol = &res.ProtocolType, &res.Protocol
	}
	return resp, nil
}

// heartbeat keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to join again.
func (s *Server) heartbeat(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = s.groupErrorCode(r, "Heartbeat", s.db.HeartbeatGroup(req.Group, req.MemberID, req.Generation))
	return resp, nil
}

// leaveGroup takes members out of a group: one by id (v0-2), or several by id or instance id (v3+), each
// with its own error code.
func (s *Server) leaveGroup(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if req.Version < 3 {
		errs := s.db.LeaveGroup(req.Group, []string{req.MemberID}, nil)
		resp.ErrorCode = s.groupErrorCode(r, "LeaveGroup", errs[0])
		return resp, nil
	}
	ids := make([]string, len(req.Members))
	instances := make([]string, len(req.Members))
	for i, m := range req.Members {
		ids[i], instances[i] = m.MemberID, deref(m.InstanceID)
	}
	errs := s.db.LeaveGroup(req.Group, ids, instances)
	for i, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = m.MemberID, m.InstanceID
		rm.ErrorCode = s.groupErrorCode(r, "LeaveGroup", errs[i])
		resp.Members = append(resp.Members, rm)
	}
	return resp, nil
}

func failLeaveGroup(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	resp.ErrorCode = code
	for _, m := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, code
		resp.Members = append(resp.Members, rm)
	}
	return resp
}

// describeGroups describes each group: its state, protocol and members with their metadata and
// assignments. A group of embedded Consumers shows protocol type "mqlog"; its members' assignments are
// encoded as Kafka consumers' are (ConsumerMemberAssignment v0), so that tools can read them. A group
// that does not exist is Dead, and from v6 GROUP_ID_NOT_FOUND, as Kafka answers.
func (s *Server) describeGroups(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = name
		d, err := s.db.DescribeGroup(name)
		switch {
		case err != nil:
			rg.ErrorCode = s.groupErrorCode(r, "DescribeGroups", err)
			rg.ErrorMessage = errorf("%v", err)
		case d.State == mqlog.GroupStateDead && req.Version >= 6:
			rg.State = d.State
			rg.ErrorCode = kerr.GroupIDNotFound.Code
			rg.ErrorMessage = errorf("group %s does not exist", name)
		default:
			rg.State, rg.ProtocolType, rg.Protocol = d.State, d.ProtocolType, d.Protocol
			for _, m := range d.Members {
				rm := kmsg.NewDescribeGroupsResponseGroupMember()
				rm.MemberID, rm.ClientID, rm.ClientHost = m.MemberID, m.ClientID, m.ClientHost
				if m.InstanceID != "" {
					rm.InstanceID = &m.InstanceID
				}
				rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
				if m.Topic != "" { // an embedded member
					a := kmsg.NewConsumerMemberAssignment()
					at := kmsg.NewConsumerMemberAssignmentTopic()
					at.Topic, at.Partitions = m.Topic, m.Partitions
					a.Topics = append(a.Topics, at)
					rm.MemberAssignment = a.AppendTo(nil)
				}
				rg.Members = append(rg.Members, rm)
			}
		}
		if rg.ErrorCode == 0 {
			rg.ErrorMessage = nil
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

func failDescribeGroups(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group, rg.ErrorCode = name, code
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

// listGroups lists the groups with members or committed offsets, filtered by state (v4+, compared as
// Kafka does, ignoring case) and type (v5+: every group here is "classic").
func (s *Server) listGroups(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	list, err := s.db.ListGroups()
	if err != nil {
		resp.ErrorCode = s.groupErrorCode(r, "ListGroups", err)
		return resp, nil
	}
	matches := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	for _, g := range list {
		if !matches(req.StatesFilter, g.State) || !matches(req.TypesFilter, "classic") {
			continue
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = g.Group, g.ProtocolType, g.State, "classic"
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

// deleteGroups deletes each group's committed offsets (and a work-queue group's ack state):
// NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when there is nothing of it.
func (s *Server) deleteGroups(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = name
		err := s.deleteGroup(r.c.ctx, name)
		rg.ErrorCode = s.groupErrorCode(r, "DeleteGroups", err)
		if err != nil && req.Version >= 3 {
			rg.ErrorMessage = errorf("%v", err)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}

// errGroupNotFound is a DeleteGroups of a group that has neither members, nor offsets, nor queue state.
var errGroupNotFound = kerr.GroupIDNotFound

func (s *Server) deleteGroup(ctx context.Context, name string) error {
	d, err := s.db.DescribeGroup(name)
	if err != nil {
		return err
	}
	if d.State == mqlog.GroupStateDead {
		queues, err := s.db.QueueGroups()
		if err != nil {
			return err
		}
		found := false
		for _, q := range queues {
			found = found || q == name
		}
		if !found {
			return errGroupNotFound
		}
	}
	return s.removeGroup(ctx, name)
}

func failDeleteGroups(kr kmsg.Request, code int16) kmsg.Response {
	req := kr.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group, rg.ErrorCode = name, code
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}
