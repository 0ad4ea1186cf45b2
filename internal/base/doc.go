// Package base holds what mqlog's rooms share: the types of messages, records, positions and topic
// settings, the names and layout of a data directory, the errors callers test with errors.Is, and the
// small interfaces through which one room sees another's topics.
//
// It sits below every room (internal/catalog, internal/groups, internal/workqueue, internal/cleaner) and
// above the storage layers (wal, segment, index), which know nothing of it. The root package re-exports
// these names as aliases, so that a user sees them as mqlog.TopicConfig, mqlog.ErrClosed and so on.
package base
