package mqlog

import (
	"github.com/mqlog/mqlog/internal/base"
	"github.com/mqlog/mqlog/internal/workqueue"
)

// Headers that carry a message's delivery settings in the log (docs/DELIVERY.md). Message.ID and
// Message.DeliverAt are stored as them; a producer that cannot set those fields (mqlog produce --header,
// a Kafka client) can set the headers itself.
const (
	// HeaderMessageID carries the producer's message id: an Append of a message whose id was appended to
	// the topic within its duplicate window is answered with the original position.
	HeaderMessageID = base.HeaderMessageID
	// HeaderDeliverAt carries the time before which no work queue delivers the message, in decimal
	// milliseconds since the Unix epoch.
	HeaderDeliverAt = base.HeaderDeliverAt
)

// DefaultDuplicateWindow is how long a topic remembers message ids when its DuplicateWindowMs is zero
// (JetStream's default duplicate window).
const DefaultDuplicateWindow = base.DefaultDuplicateWindow

// ErrInvalidMessage is returned by Append for a message whose delivery settings contradict its headers:
// an ID or a DeliverAt given both as a field and as its header, or a HeaderDeliverAt that is not a number.
var ErrInvalidMessage = base.ErrInvalidMessage

// MaxHeldPerPending bounds the messages a queue with OrderedKeys keeps waiting behind their keys, as a
// multiple of MaxAckPending; at the bound it stops reading new messages until a key's message is done.
const MaxHeldPerPending = workqueue.MaxHeldPerPending
