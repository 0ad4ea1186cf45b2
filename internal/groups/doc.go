// Package groups is the room of consumer groups: who is a member of which group, which partitions each
// member owns in which generation, the committed offsets (durable, in the index), and the rules that keep
// a group's position from going backwards behind its members' backs.
//
// # Generations and fenced commits
//
// A group has one generation, raised at every change of its membership (a member joins or leaves). Each
// member owns partitions in the current generation: an embedded member (Consumer) gets its share from the
// coordinator (partition p of a topic goes to the p mod n-th of the topic's n members, in joining order).
// A commit is refused with a *base.FencedError (errors.Is base.ErrFenced) when the member is no longer in
// the group, or when it does not own the partition now, or has not owned it continuously since the
// generation it read under: so a member that lost a partition in a rebalance can never move the group's
// position in it, even when the partition comes back to it later. A commit without a member (a tool
// setting positions) is accepted only while the group has no members (base.ErrGroupActive otherwise), as
// Kafka accepts a commit with generation -1 only for an empty group.
//
// Membership changes and commits are ordered by one gate: commits run concurrently under its read side
// (their synced Pebble writes share fsyncs), a membership change takes its write side, so a commit checked
// against generation g lands before generation g+1 begins.
//
// # Offsets and incarnations
//
// Offsets are stored with the incarnation of the topic they were committed in (see internal/catalog);
// an offset of another incarnation is not the topic's: it is ignored, and removed at Open. Group
// membership lives in memory only: after a restart every group is empty, and its members join again.
package groups
