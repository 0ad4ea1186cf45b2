package fanin

import (
	"context"
	"testing"
	"time"
)

func TestWaitWakesOnAnyChannel(t *testing.T) {
	for n := 1; n <= 6; n++ {
		chans := make([]chan struct{}, n)
		recv := make([]<-chan struct{}, n)
		for i := range chans {
			chans[i] = make(chan struct{})
			recv[i] = chans[i]
		}
		for i := range chans {
			done := make(chan error, 1)
			go func() { done <- Wait(context.Background(), nil, recv...) }()
			select {
			case <-done:
				t.Fatalf("n=%d: Wait returned before any channel fired", n)
			case <-time.After(5 * time.Millisecond):
			}
			close(chans[i])
			if err := <-done; err != nil {
				t.Fatalf("n=%d, channel %d: %v", n, i, err)
			}
			chans[i] = make(chan struct{})
			recv[i] = chans[i]
		}
	}
}

func TestWaitContextAndTimer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for n := 0; n <= 5; n++ {
		if err := Wait(ctx, nil, make([]<-chan struct{}, n)...); err != context.Canceled {
			t.Fatalf("n=%d: cancelled context gave %v", n, err)
		}
	}
	for n := 0; n <= 5; n++ {
		timer, stop := Timer(time.Now().Add(time.Millisecond))
		if err := Wait(context.Background(), timer, make([]<-chan struct{}, n)...); err != nil {
			t.Fatalf("n=%d: timer gave %v", n, err)
		}
		stop()
	}
}
