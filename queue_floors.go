package mqlog

// workQueueFloors returns, for each partition of topicName, the offset below which every work-queue group
// of the topic has acked everything: the smallest durable ack floor over the groups (work-queue retention
// may delete the segments that end at or below it). A group that has ack state for some partitions of the
// topic but none for partition p has acked nothing there: its floor on p is 0. A partition that no group
// has state for is absent from the map: no work-queue group holds anything back there. The floors are read
// from the index, so they are durable ones: never above what a crash would leave acked.
//
// Floors are not clamped to the log: retention compares them with segment ends, and a floor below the log
// start (retention already removed more) keeps nothing.
func (db *DB) workQueueFloors(topicName string) (map[int32]int64, error) {
	if db.readOnly {
		return nil, ErrReadOnly
	}
	t, err := db.topic(topicName)
	if err != nil {
		return nil, err
	}
	states, err := db.store.AckStates("")
	if err != nil {
		return nil, err
	}
	byGroup := make(map[string]map[int32]int64)
	for _, st := range states {
		if st.Topic != topicName {
			continue
		}
		if byGroup[st.Group] == nil {
			byGroup[st.Group] = make(map[int32]int64)
		}
		byGroup[st.Group][st.Partition] = st.Floor
	}
	floors := make(map[int32]int64)
	for _, groupFloors := range byGroup {
		for p := range int32(len(t.partitions)) {
			f := groupFloors[p] // 0 where the group has acked nothing on p
			if cur, ok := floors[p]; !ok || f < cur {
				floors[p] = f
			}
		}
	}
	return floors, nil
}
