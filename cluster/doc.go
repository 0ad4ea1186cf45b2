// Package cluster runs an mqlog DB as one node of a three-node (or larger) group replicated by
// hashicorp/raft, on the store of package raftstore (issue 17, items 2 and 3). This file set is being
// built; types.go holds the names the Kafka front end (package kafka) relies on.
package cluster
