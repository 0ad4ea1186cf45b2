package mqlog

import (
	"context"
	"fmt"

	"github.com/mqlog/mqlog/internal/groups"
)

// Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
// OffsetFetch, DescribeGroups, ListGroups), for a front end that speaks it, such as the kafka package's
// server. The coordinator runs here and the assignment is computed by the group's leader, a client. The
// groups are the same ones that DB.Consumer joins and `mqlog groups` shows: one set of committed
// offsets, generations and fenced commits. A group is used either by embedded Consumers or by members of
// this protocol at one time, not both (ErrInconsistentGroupProtocol).

// GroupJoinRequest is a JoinGroup: the group, the member id (empty for a new member), the protocol type
// ("consumer" for Kafka consumers) and the assignment protocols the member supports with their metadata,
// the session and rebalance timeouts, and whether a new member must first get an id (JoinGroup v4+).
type GroupJoinRequest = groups.JoinRequest

// GroupProtocol is an assignment protocol a member supports, with its metadata.
type GroupProtocol = groups.Protocol

// GroupJoinResult is the answer to a join: the generation, the chosen protocol, the leader, the member's
// id, and, for the leader only, every member with its metadata.
type GroupJoinResult = groups.JoinResult

// GroupJoinedMember is a member as the leader sees it in a GroupJoinResult.
type GroupJoinedMember = groups.JoinedMember

// GroupSyncRequest is a SyncGroup; the leader's carries every member's assignment.
type GroupSyncRequest = groups.SyncRequest

// GroupSyncResult is a member's assignment.
type GroupSyncResult = groups.SyncResult

// GroupDescription describes a group: its state (Empty, PreparingRebalance, CompletingRebalance,
// Stable, Dead), protocol type and protocol, generation and members.
type GroupDescription = groups.GroupDescription

// GroupMemberDescription is a member in a GroupDescription.
type GroupMemberDescription = groups.MemberDescription

// GroupListing is a group in ListGroups: its name, state and protocol type.
type GroupListing = groups.GroupListing

// GroupOffsetCommit is one partition of CommitGroupOffsets, and what FetchGroupCommit returns.
type GroupOffsetCommit struct {
	Topic     string
	Partition int32
	Offset    int64
	// LeaderEpoch is the leader epoch the committer saw (Kafka's committed leader epoch), stored with
	// the offset; -1 for none (set it: 0 is an epoch).
	LeaderEpoch int32
	// Metadata is the committer's string stored with the offset (Kafka's commit metadata), at most
	// MaxOffsetMetadataBytes.
	Metadata string
}

// Errors of the group protocol, each one of Kafka's error codes.
var (
	// ErrMemberIDRequired (MEMBER_ID_REQUIRED): a new member was given an id; it must join again with it.
	ErrMemberIDRequired = groups.ErrMemberIDRequired
	// ErrUnknownMember (UNKNOWN_MEMBER_ID): the member id is not in the group.
	ErrUnknownMember = groups.ErrUnknownMember
	// ErrIllegalGeneration (ILLEGAL_GENERATION): the request carries another generation than the group's.
	ErrIllegalGeneration = groups.ErrIllegalGeneration
	// ErrRebalanceInProgress (REBALANCE_IN_PROGRESS): the group is rebalancing; the member joins again.
	ErrRebalanceInProgress = groups.ErrRebalanceInProgress
	// ErrInconsistentGroupProtocol (INCONSISTENT_GROUP_PROTOCOL): the protocol type or protocols do not
	// match the group's, or the group is used by embedded Consumers (and the reverse).
	ErrInconsistentGroupProtocol = groups.ErrInconsistentProtocol
	// ErrInvalidSessionTimeout (INVALID_SESSION_TIMEOUT): outside [MinSessionTimeout, MaxSessionTimeout].
	ErrInvalidSessionTimeout = groups.ErrInvalidSessionTimeout
)

// Session timeouts a member of the group protocol may ask for (Kafka's defaults).
const (
	MinSessionTimeout = groups.MinSessionTimeout
	MaxSessionTimeout = groups.MaxSessionTimeout
)

// GroupProtocolEmbedded is the protocol type a GroupDescription shows for a group of embedded Consumers.
const GroupProtocolEmbedded = groups.ProtocolEmbedded

// Group states, as Kafka names them.
const (
	GroupStateEmpty               = groups.StateEmpty
	GroupStatePreparingRebalance  = groups.StatePreparingRebalance
	GroupStateCompletingRebalance = groups.StateCompletingRebalance
	GroupStateStable              = groups.StateStable
	GroupStateDead                = groups.StateDead
)

// JoinGroup handles a JoinGroup: it blocks until the rebalance it starts or takes part in completes, or
// ctx is done. A new member with RequireKnownMemberID gets ErrMemberIDRequired with its id in the result.
func (db *DB) JoinGroup(ctx context.Context, req GroupJoinRequest) (GroupJoinResult, error) {
	if err := db.writable(); err != nil {
		return GroupJoinResult{}, err
	}
	return db.groups.Join(ctx, req)
}

// SyncGroup handles a SyncGroup: the leader's hands every member its assignment; a follower's waits for
// it, or for ctx.
func (db *DB) SyncGroup(ctx context.Context, req GroupSyncRequest) (GroupSyncResult, error) {
	if err := db.writable(); err != nil {
		return GroupSyncResult{}, err
	}
	return db.groups.Sync(ctx, req)
}

// HeartbeatGroup keeps a member's session alive; ErrRebalanceInProgress tells it to join again.
func (db *DB) HeartbeatGroup(group, memberID string, generation int32) error {
	if err := db.writable(); err != nil {
		return err
	}
	return db.groups.Heartbeat(group, memberID, generation)
}

// LeaveGroup takes members out of a group (by id, or for static members by instance id with an empty
// id) and rebalances the rest. It returns an error per member, nil for those that left.
func (db *DB) LeaveGroup(group string, memberIDs, instanceIDs []string) []error {
	if err := db.writable(); err != nil {
		errs := make([]error, len(memberIDs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	return db.groups.Leave(group, memberIDs, instanceIDs)
}

// CommitGroupOffsets handles an OffsetCommit of the group protocol, durably: a generation below 0 with
// no member id is a commit from outside the group, accepted only while the group has no members;
// otherwise the member must be in the group and speak for its current generation, and the group must
// not be completing a rebalance. The error is for the whole request; the slice has one error per offset
// (ErrTopicNotFound, ErrInvalidPartition, ErrOutOfRange, ErrOffsetMetadataTooLarge), nil for those
// committed. Each offset is stored with its leader epoch and metadata.
func (db *DB) CommitGroupOffsets(group, memberID string, generation int32, offsets []GroupOffsetCommit) ([]error, error) {
	return db.writeGroupOffsets(offsets, func(commits []groups.OffsetCommit) ([]error, error) {
		return db.groups.CommitClassic(group, memberID, generation, commits)
	})
}

// writeGroupOffsets checks each offset's topic and metadata, hands those that pass to write (a commit of
// the coordinator's), and returns one error per offset: the check's, or write's for it.
func (db *DB) writeGroupOffsets(offsets []GroupOffsetCommit, write func([]groups.OffsetCommit) ([]error, error)) ([]error, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	commits := make([]groups.OffsetCommit, 0, len(offsets))
	errs := make([]error, len(offsets))
	var index []int
	for i, o := range offsets {
		t, err := db.catalog.Get(o.Topic)
		if err != nil {
			errs[i] = err
			continue
		}
		if len(o.Metadata) > MaxOffsetMetadataBytes {
			errs[i] = fmt.Errorf("%w: %d bytes for %s/%d, at most %d", ErrOffsetMetadataTooLarge, len(o.Metadata), o.Topic, o.Partition, MaxOffsetMetadataBytes)
			continue
		}
		commits = append(commits, groups.OffsetCommit{Topic: t, Partition: o.Partition, Offset: o.Offset, LeaderEpoch: max(o.LeaderEpoch, -1), Metadata: o.Metadata})
		index = append(index, i)
	}
	done, err := write(commits)
	if err != nil {
		return nil, err
	}
	for j, i := range index {
		errs[i] = done[j]
	}
	return errs, nil
}

// FetchGroupOffset returns a group's committed offset in a partition, or ok false when it has none.
func (db *DB) FetchGroupOffset(group, topic string, partition int32) (int64, bool, error) {
	c, ok, err := db.FetchGroupCommit(group, topic, partition)
	return c.Offset, ok, err
}

// FetchGroupCommit returns what a group committed in a partition: the offset with the leader epoch and
// metadata committed with it (-1 and "" where the commit carried none), or ok false when it has none.
func (db *DB) FetchGroupCommit(group, topic string, partition int32) (GroupOffsetCommit, bool, error) {
	if err := db.writable(); err != nil {
		return GroupOffsetCommit{}, false, err
	}
	t, err := db.catalog.Get(topic)
	if err != nil {
		return GroupOffsetCommit{}, false, err
	}
	o, ok, err := db.groups.FetchCommit(group, t, partition)
	if err != nil || !ok {
		return GroupOffsetCommit{}, false, err
	}
	return GroupOffsetCommit{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata}, true, nil
}

// DescribeGroup describes a group, its members and their assignments.
func (db *DB) DescribeGroup(group string) (GroupDescription, error) {
	if err := db.writable(); err != nil {
		return GroupDescription{}, err
	}
	return db.groups.Describe(group)
}

// ListGroups lists the consumer groups with members or committed offsets, sorted.
func (db *DB) ListGroups() ([]GroupListing, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	return db.groups.List()
}
