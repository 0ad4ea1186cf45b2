package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqlog/mqlog"
)

// TestWaitListed: produce's wait for a topic that another client created meanwhile returns its partitions
// once the broker lists it, and an error, never a count of 0 with no error, when it is still not listed
// at the deadline (it printed "created topic t with 0 partitions" and went on to produce to nothing).
func TestWaitListed(t *testing.T) {
	ctx := context.Background()
	looks := 0
	n, err := waitListed(ctx, "t", time.Second, func() (brokerTopic, error) {
		looks++
		return brokerTopic{exists: looks >= 3, partitions: 4}, nil
	})
	if err != nil || n != 4 || looks != 3 {
		t.Fatalf("listed at the third look: %d partitions, %v after %d looks", n, err, looks)
	}
	n, err = waitListed(ctx, "t", 150*time.Millisecond, func() (brokerTopic, error) { return brokerTopic{}, nil })
	if !errors.Is(err, mqlog.ErrTopicNotFound) {
		t.Fatalf("never listed: %d partitions, %v; want ErrTopicNotFound", n, err)
	}
	lookupErr := errors.New("broker down")
	if _, err := waitListed(ctx, "t", time.Second, func() (brokerTopic, error) { return brokerTopic{}, lookupErr }); !errors.Is(err, lookupErr) {
		t.Fatalf("a failed lookup: %v", err)
	}
}
