package base

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Headers that carry a message's delivery fields in the log, so that they are as durable as the message
// and need no write of their own: Message.ID and Message.DeliverAt are stored as them, and a producer
// that cannot set those fields (the CLI's produce --header, a Kafka client) can set the headers instead.
const (
	// HeaderMessageID carries the producer's message id (any bytes; empty is none).
	HeaderMessageID = "mqlog-msg-id"
	// HeaderDeliverAt carries the time before which no work queue delivers the message, in decimal
	// milliseconds since the Unix epoch.
	HeaderDeliverAt = "mqlog-deliver-at"
)

// HeaderValue returns the value of the first header named key.
func HeaderValue(headers []Header, key string) ([]byte, bool) {
	for i := range headers {
		if headers[i].Key == key {
			return headers[i].Value, true
		}
	}
	return nil, false
}

// MessageID returns the message id of a record's or message's headers, or "" for none.
func MessageID(headers []Header) string {
	v, _ := HeaderValue(headers, HeaderMessageID)
	return string(v)
}

// DeliverAtMillis returns the delivery time of a record's headers, in milliseconds since the epoch, and
// false when it has none (or one that is not a number, which PrepareDelivery refuses on append).
func DeliverAtMillis(headers []Header) (int64, bool) {
	v, ok := HeaderValue(headers, HeaderDeliverAt)
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(string(v), 10, 64)
	return ms, err == nil
}

// PrepareDelivery returns msgs with the ID and DeliverAt fields stored as their headers, and whether any
// message carries a message id (as a field or a header). When no message sets either field it returns
// msgs itself: the common append copies nothing. A field given together with its header, or a
// HeaderDeliverAt that is not a number, is ErrInvalidMessage naming the message's index.
func PrepareDelivery(msgs []Message) (out []Message, ids bool, err error) {
	out = msgs
	copied := false
	for i := range msgs {
		m := &msgs[i]
		if len(m.Headers) > 0 {
			id, hasID := HeaderValue(m.Headers, HeaderMessageID)
			if hasID && m.ID != "" {
				return nil, false, fmt.Errorf("%w: message %d has both an ID and a %s header", ErrInvalidMessage, i, HeaderMessageID)
			}
			ids = ids || len(id) > 0
			if at, hasAt := HeaderValue(m.Headers, HeaderDeliverAt); hasAt {
				if !m.DeliverAt.IsZero() {
					return nil, false, fmt.Errorf("%w: message %d has both a DeliverAt and a %s header", ErrInvalidMessage, i, HeaderDeliverAt)
				}
				if _, err := strconv.ParseInt(string(at), 10, 64); err != nil {
					return nil, false, fmt.Errorf("%w: message %d: %s %q is not milliseconds since the epoch", ErrInvalidMessage, i, HeaderDeliverAt, at)
				}
			}
		}
		if m.ID == "" && m.DeliverAt.IsZero() {
			continue
		}
		if !copied {
			out, copied = slices.Clone(msgs), true // the caller's messages stay as they are
		}
		c := &out[i]
		c.Headers = slices.Clip(c.Headers) // appends below copy, never write into the caller's array
		if c.ID != "" {
			c.Headers = append(c.Headers, Header{Key: HeaderMessageID, Value: []byte(c.ID)})
			ids = true
		}
		if !c.DeliverAt.IsZero() {
			c.Headers = append(c.Headers, Header{Key: HeaderDeliverAt, Value: strconv.AppendInt(nil, c.DeliverAt.UnixMilli(), 10)})
		}
		c.ID, c.DeliverAt = "", time.Time{} // stored in the headers now
	}
	return out, ids, nil
}
