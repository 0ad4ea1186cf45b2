package workqueue

// Replicated work queues (package cluster, through the root's DB.ReplicateQueues). On a replicated node
// the Store's SaveQueueState is a proposal to the replicated log that returns once the log applied it to
// the local index; the log's applies run one at a time and may delete a topic or add partitions, which
// call TopicDeleted and PartitionsAdded. Those must then never wait for a save, nor for the registry's
// mu, which Open and the last Close hold across saves: each would wait for the apply that waits for it
// (TestQueueOpenWhileTopicsChange in package cluster hung so). So on a replicated registry they return
// at once and do their work on a goroutine of their own:
//
//   - TopicDeleted fails the topic's groups without waiting for their saves in flight (the log refuses a
//     save of a deleted topic when it applies it, on every node alike, so a late one changes nothing);
//   - PartitionsAdded gives the new partitions their state at the log start in memory, saved by the
//     partition's next save (a partition without state reads from its start anyway), so that it holds
//     no group's mu across a save.
//
// A consumer may then see the change a moment after the apply. Only the leader of the log holds open
// groups; when it loses the leadership, FailAll ends them, so that the next leader's groups, opened from
// its index, are the only ones handing messages out.

// SetReplicated tells the registry that its store's saves go through a replicated log (see above). Set
// it before any group opens.
func (r *Registry) SetReplicated(on bool) { r.replicated.Store(on) }

// FailAll makes every open group fail with err (their consumers' calls and their messages' acks return
// it) once their saves in flight have returned, and forgets them: the next Open of a group loads its
// state from the store again.
func (r *Registry) FailAll(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, g := range r.mu.groups {
		g.fail(err)
		delete(r.mu.groups, key)
	}
}

// Active reports whether a consumer of group is open (on any topic).
func (r *Registry) Active(group string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.mu.groups {
		if key.group == group {
			return true
		}
	}
	return false
}
