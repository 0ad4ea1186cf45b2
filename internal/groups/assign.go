package groups

import "github.com/mqlog/mqlog/internal/base"

// assignEmbedded gives each topic's partitions to the group's members that read it: partition p to the
// (p mod n)-th of its n readers, in joining order. A member keeps, for a partition it still owns, the
// generation since which it has owned it; a partition new to it is owned since the current generation.
func assignEmbedded(g *groupState) {
	byTopic := map[base.Topic][]*member{} // by identity: readers of two incarnations never share
	var order []base.Topic
	for _, m := range g.members {
		if byTopic[m.topic] == nil {
			order = append(order, m.topic)
		}
		byTopic[m.topic] = append(byTopic[m.topic], m)
	}
	for _, t := range order {
		readers := byTopic[t]
		n := len(t.Logs())
		for i, m := range readers {
			owned := make(map[int32]int32)
			for p := i; p < n; p += len(readers) {
				if since, ok := m.owned[int32(p)]; ok {
					owned[int32(p)] = since
				} else {
					owned[int32(p)] = g.generation
				}
			}
			m.owned = owned
		}
	}
}
