package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mqlog/mqlog"
)

// The raft commands, each the Data of one raft LogCommand entry: a one-byte type, then either a binary
// append (the batch's bytes as they are, not re-encoded) or a JSON body. The encoding is a wire format
// between the nodes of one cluster (docs/FORMAT.md "Raft commands"): a type byte is never reused.
//
//	opAppend:  type | uvarint topic length | topic | partition int32 BE | RecordBatch v2 frame
//	others:    type | JSON object (the fields of the command struct below)
type opType byte

const (
	opAppend        opType = 1  // a RecordBatch for one partition
	opCreateTopic   opType = 2  // createTopicCmd
	opDeleteTopic   opType = 3  // nameCmd
	opAddPartitions opType = 4  // addPartitionsCmd
	opSetOffsets    opType = 5  // setOffsetsCmd
	opDeleteGroup   opType = 6  // nameCmd
	opSetBroker     opType = 7  // Broker
	opRemoveBroker  opType = 8  // idCmd
	opProducerID    opType = 9  // no body: the next idempotent producer id
	opQueueState    opType = 10 // queueStateCmd: a work-queue group's state in one partition (queues.go)
)

// ErrBadCommand is the error of a raft entry that does not decode as a command (never written by this
// package; a foreign or damaged entry). Every node refuses it alike.
var ErrBadCommand = errors.New("mqlog/cluster: bad raft command")

type createTopicCmd struct {
	Name   string            `json:"name"`
	Config mqlog.TopicConfig `json:"config"`
}

type nameCmd struct {
	Name string `json:"name"`
}

type addPartitionsCmd struct {
	Topic string `json:"topic"`
	Count int    `json:"count"`
}

type setOffsetsCmd struct {
	Group   string                    `json:"group"`
	Offsets []mqlog.GroupOffsetCommit `json:"offsets"`
}

// queueStateCmd is one save of a work-queue group's state in one partition, by topic name and replicated
// topic incarnation (TopicIncarnation); Save.State.Incarnation is 0 (each node applies it to its own).
// Term is the raft term the saving group was opened in: a command whose entry has another term (the
// group's node lost the leadership and won it again) is refused.
type queueStateCmd struct {
	TopicID uint64               `json:"topic_id"`
	Term    uint64               `json:"term"`
	Save    mqlog.QueueStateSave `json:"save"`
}

type idCmd struct {
	ID int32 `json:"id"`
}

// appendCmd is a decoded opAppend; frame aliases the entry's Data.
type appendCmd struct {
	topic     string
	partition int32
	frame     []byte
}

func encodeAppend(topic string, partition int32, frame []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(topic)+4+len(frame))
	b = append(b, byte(opAppend))
	b = binary.AppendUvarint(b, uint64(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint32(b, uint32(partition))
	return append(b, frame...)
}

func decodeAppend(data []byte) (appendCmd, error) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) || uint64(len(data)-k)-n < 4 {
		return appendCmd{}, fmt.Errorf("%w: append of %d bytes", ErrBadCommand, len(data))
	}
	data = data[k:]
	c := appendCmd{topic: string(data[:n])}
	data = data[n:]
	c.partition = int32(binary.BigEndian.Uint32(data))
	c.frame = data[4:]
	return c, nil
}

func encodeJSON(op opType, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(op)}, body...), nil
}

func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	return nil
}
