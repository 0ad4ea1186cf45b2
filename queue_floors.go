package mqlog

// workQueueFloors returns, for each partition of topicName, the offset below which every work-queue group
// of the topic has acked everything: the smallest durable ack floor over the groups (work-queue retention
// may delete the segments that end at or below it). A partition no group has state for is absent from the
// map: no group holds anything back there. The floors are read from the index, so they are durable ones:
// never above what a crash would leave acked.
//
// Floors are not clamped to the log: retention compares them with segment ends, and a floor below the log
// start (retention already removed more) keeps nothing.
func (db *DB) workQueueFloors(topicName string) (map[int32]int64, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	if _, err := db.topic(topicName); err != nil {
		return nil, err
	}
	states, err := db.store.AckStates("")
	if err != nil {
		return nil, err
	}
	floors := make(map[int32]int64)
	for _, st := range states {
		if st.Topic != topicName {
			continue
		}
		if f, ok := floors[st.Partition]; !ok || st.Floor < f {
			floors[st.Partition] = st.Floor
		}
	}
	return floors, nil
}
