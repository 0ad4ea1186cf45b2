package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mqlog/mqlog"
)

// Channels the service sends on; each has an urgent and a normal level, a topic each.
var channels = []string{"push", "email", "sms"}

// levels returns the topics of a channel's priority levels, the highest first.
func levels(channel string) []string {
	return []string{"notify." + channel + ".urgent", "notify." + channel + ".normal"}
}

// deadLetters is where notifications that failed MaxDeliver times go, from every channel.
const deadLetters = "notify.dlq"

// Config sizes a run.
type Config struct {
	Dir           string        // the data directory
	Notifications int           // notifications enqueued in all (half before the restart, half after)
	Customers     int           // a customer's notifications on one channel are sent one at a time, in order
	Producers     int           // enqueueing goroutines; each owns a share of the customers
	Workers       int           // senders per channel
	FailureRate   float64       // share of first and second attempts that fail and are retried with back-off
	PoisonEvery   int           // every n-th notification can never be sent (0: none)
	ReminderEvery int           // every n-th notification is a reminder, delivered later (0: none)
	ReminderDelay time.Duration // how much later
	RetryEvery    int           // every n-th enqueue is sent twice, as a producer retrying after a timeout
	Seed          uint64
}

// DefaultConfig is a run that takes a few seconds.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, Notifications: 600, Customers: 40, Producers: 4, Workers: 4, FailureRate: 0.15,
		PoisonEvery: 97, ReminderEvery: 7, ReminderDelay: 300 * time.Millisecond, RetryEvery: 5, Seed: 1}
}

// queueOptions are the senders' queue settings: retries back off, a poison notification reaches the
// dead-letter topic after four attempts, a customer's notifications never go out of order or at once.
var queueOptions = mqlog.QueueOptions{
	AckWait:         5 * time.Second,
	MaxDeliver:      4,
	DeadLetterTopic: deadLetters,
	BackOff:         []time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond},
	OrderedKeys:     true,
	MaxAckPending:   64,
}

// notification is a message's value.
type notification struct {
	ID        string    `json:"id"`
	Customer  string    `json:"customer"`
	Channel   string    `json:"channel"`
	Urgent    bool      `json:"urgent"`
	Seq       int       `json:"seq"` // the customer's n-th notification on the channel and level
	Poison    bool      `json:"poison"`
	DeliverAt time.Time `json:"deliver_at,omitzero"`
	Text      string    `json:"text"`
}

// Report is what a run did, and what it saw go wrong (Violations must stay empty).
type Report struct {
	Enqueued        int // notifications appended
	Duplicates      int // enqueues answered with an earlier position (producer retries)
	Reminders       int
	Urgent          int
	Sent            int // notifications sent and acked
	Attempts        int // send attempts, failed ones included
	Failures        int // failed attempts (retried with back-off)
	Poison          int
	DeadLettered    int // distinct notifications in the dead-letter topic
	ResentAfterStop int // notifications sent before the restart, not acked, and sent again after it
	LeftAtRestart   int // notifications neither acked nor dead-lettered when the service stopped
	RemindersAfter  int // reminders enqueued before the restart and sent after it
	// UrgentWait and NormalWait are the mean times from enqueue to the first attempt (reminders aside).
	UrgentWait, NormalWait time.Duration
	Elapsed                time.Duration
	Violations             []string
}

// ledger is the outside world's view: what the fake providers were asked to send, and what was acked.
type ledger struct {
	mu         sync.Mutex
	byID       map[string]notification
	sends      map[string]int  // successful sends
	acked      map[string]bool // Ack returned
	sentBefore map[string]bool // sent before the restart
	inFlight   map[string]bool // topic/customer with a notification being sent
	lastSeq    map[string]int  // topic/customer: the last sequence number sent (immediate ones)
	enqueued   map[string]time.Time
	waits      [2]waitStat // by priority level
	report     *Report
	phase      int                 // 0 before the restart, 1 after
	trail      map[string][]string // per notification: its attempts and acks, for notDone
}

// waitStat sums the waits from enqueue to first attempt.
type waitStat struct {
	total time.Duration
	n     int
}

func (w waitStat) mean() time.Duration {
	if w.n == 0 {
		return 0
	}
	return w.total / time.Duration(w.n)
}

func (l *ledger) violation(format string, args ...any) {
	if len(l.report.Violations) < 20 {
		l.report.Violations = append(l.report.Violations, fmt.Sprintf(format, args...))
	}
}

// Run runs the service: producers and senders, a restart in the middle, until every notification is sent
// or dead-lettered (or ctx ends).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	rep := &Report{}
	l := &ledger{byID: map[string]notification{}, sends: map[string]int{}, acked: map[string]bool{},
		sentBefore: map[string]bool{}, inFlight: map[string]bool{}, lastSeq: map[string]int{},
		enqueued: map[string]time.Time{}, report: rep, trail: map[string][]string{}}
	plan := makePlan(cfg)
	for _, n := range plan {
		l.byID[n.ID] = n
		switch {
		case n.Poison:
			rep.Poison++
		case !n.DeliverAt.IsZero():
			rep.Reminders++
		}
		if n.Urgent {
			rep.Urgent++
		}
	}
	half := len(plan) / 2
	for phase, part := range [][]notification{plan[:half], plan[half:]} {
		db, err := mqlog.Open(cfg.Dir, nil)
		if err != nil {
			return nil, err
		}
		var retries []notification
		if phase == 1 {
			// After the restart, producers retry some of what they enqueued before it: the duplicate
			// window, rebuilt from the log, answers each with its original position.
			for i := 0; i < half; i += 10 {
				retries = append(retries, plan[i])
			}
		}
		l.mu.Lock()
		l.phase = phase
		l.mu.Unlock()
		err = runPhase(ctx, db, cfg, l, part, retries, phase == 1)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		if phase == 0 {
			l.mu.Lock()
			for id, n := range l.sends {
				if n > 0 && !l.acked[id] {
					l.sentBefore[id] = true
				}
			}
			for _, n := range plan[:half] {
				if !l.acked[n.ID] {
					rep.LeftAtRestart++
					if !n.DeliverAt.IsZero() && !n.Poison {
						rep.RemindersAfter++
					}
				}
			}
			l.mu.Unlock()
		}
	}
	db, err := mqlog.Open(cfg.Dir, nil)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	dead := map[string]bool{}
	for rec, err := range db.Read(deadLetters, 0, 0) {
		if err != nil {
			return nil, err
		}
		var n notification
		if err := json.Unmarshal(rec.Value, &n); err != nil {
			return nil, err
		}
		dead[n.ID] = true
	}
	rep.DeadLettered = len(dead)
	for id, n := range l.byID {
		switch {
		case n.Poison && !dead[id]:
			l.violation("poison notification %s did not reach the dead-letter topic", id)
		case !n.Poison && (l.sends[id] == 0 || !l.acked[id]):
			l.violation("notification %s lost: sent %d times, acked %v", id, l.sends[id], l.acked[id])
		case !n.Poison && l.sends[id] > 1 && !l.sentBefore[id]:
			l.violation("notification %s sent %d times", id, l.sends[id])
		}
		if l.sentBefore[id] && l.sends[id] > 1 {
			rep.ResentAfterStop++
		}
	}
	rep.UrgentWait, rep.NormalWait = l.waits[0].mean(), l.waits[1].mean()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// makePlan returns every notification of the run, in the order producers enqueue them.
func makePlan(cfg Config) []notification {
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	seq := map[string]int{}
	var plan []notification
	for i := range cfg.Notifications {
		n := notification{
			ID:       fmt.Sprintf("n-%05d", i),
			Customer: fmt.Sprintf("customer-%03d", rng.IntN(cfg.Customers)),
			Channel:  channels[rng.IntN(len(channels))],
			Urgent:   rng.IntN(5) == 0,
			Text:     fmt.Sprintf("notification %d", i),
		}
		n.Poison = cfg.PoisonEvery > 0 && i%cfg.PoisonEvery == cfg.PoisonEvery-1
		if cfg.ReminderEvery > 0 && i%cfg.ReminderEvery == 0 && !n.Urgent {
			n.DeliverAt = time.Now() // set at enqueue time: ReminderDelay later
		}
		k := topicOf(n) + "/" + n.Customer
		seq[k]++
		n.Seq = seq[k]
		plan = append(plan, n)
	}
	return plan
}

func topicOf(n notification) string {
	if n.Urgent {
		return levels(n.Channel)[0]
	}
	return levels(n.Channel)[1]
}

// runPhase enqueues part (and retries) while the senders work, and returns once every notification
// enqueued so far is done (sent or dead-lettered) in the last phase, or once part is enqueued and a little
// work has happened in the first: the restart then catches messages in flight.
func runPhase(ctx context.Context, db *mqlog.DB, cfg Config, l *ledger, part, retries []notification, last bool) error {
	for _, ch := range channels {
		for _, topic := range levels(ch) {
			if err := db.CreateTopic(topic, mqlog.TopicConfig{}); err != nil && !errors.Is(err, mqlog.ErrTopicExists) {
				return err
			}
		}
	}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var workers sync.WaitGroup
	errs := make(chan error, len(channels)*cfg.Workers+cfg.Producers)
	for _, ch := range channels {
		for w := range cfg.Workers {
			pq, err := db.PriorityQueue("senders", levels(ch), queueOptions, mqlog.PriorityOptions{LowerShare: 0.2})
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(1000+w)))
			workers.Go(func() {
				defer pq.Close()
				if err := send(workCtx, pq, l, cfg, rng); err != nil {
					errs <- err
				}
			})
		}
	}
	var producers sync.WaitGroup
	for p := range cfg.Producers {
		producers.Go(func() {
			if err := produce(ctx, db, cfg, l, part, retries, p); err != nil {
				errs <- err
			}
		})
	}
	producers.Wait()
	if last {
		for !l.allDone(db) {
			select {
			case err := <-errs:
				return err
			case <-ctx.Done():
				return fmt.Errorf("%w: %s", ctx.Err(), l.notDone(db))
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// In the first phase the service stops as soon as its producers are done: sends are in flight, most
	// notifications are still queued, reminders are scheduled.
	stopWork()
	workers.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// produce enqueues the notifications of producer p's customers, in order, and the retries among them;
// every RetryEvery-th enqueue is sent twice, as a producer that timed out and retried.
func produce(ctx context.Context, db *mqlog.DB, cfg Config, l *ledger, part, retries []notification, p int) error {
	mine := func(n notification) bool { return int(n.Customer[len(n.Customer)-1])%cfg.Producers == p }
	enqueue := func(n notification, retry bool) error {
		if !n.DeliverAt.IsZero() {
			n.DeliverAt = time.Now().Add(cfg.ReminderDelay)
		}
		value, err := json.Marshal(n)
		if err != nil {
			return err
		}
		msg := mqlog.Message{Key: []byte(n.Customer), Value: value, ID: n.ID, DeliverAt: n.DeliverAt}
		pos, err := db.Append(ctx, topicOf(n), msg)
		if err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if !n.DeliverAt.IsZero() && !retry {
			l.byID[n.ID] = n // with the delivery time it was enqueued with
		}
		if pos[0].Duplicate {
			l.report.Duplicates++
		} else if retry {
			l.violation("retry of %s appended again at %+v", n.ID, pos[0])
		} else {
			l.report.Enqueued++
			l.enqueued[n.ID] = time.Now()
		}
		return nil
	}
	for i, n := range part {
		if !mine(n) {
			continue
		}
		if err := enqueue(n, false); err != nil {
			return err
		}
		if cfg.RetryEvery > 0 && i%cfg.RetryEvery == 0 {
			if err := enqueue(n, true); err != nil {
				return err
			}
		}
	}
	for _, n := range retries {
		if mine(n) {
			if err := enqueue(n, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// send is one sender of a channel: it takes notifications by priority, sends them through the fake
// provider, acks what was sent, and naks what failed (the queue's back-off spaces the retries).
func send(ctx context.Context, pq *mqlog.PriorityQueue, l *ledger, cfg Config, rng *rand.Rand) error {
	for {
		if ctx.Err() != nil {
			// Stopped: take nothing more (a Next with a done ctx still takes a ready message, and one
			// taken for nobody would count a delivery toward MaxDeliver).
			return nil
		}
		m, err := pq.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var n notification
		if err := json.Unmarshal(m.Value, &n); err != nil {
			return err
		}
		// The provider fails now and then, but never a third time in a row: only poison notifications
		// reach MaxDeliver.
		ok := l.attempt(n, m, m.Deliveries > 2 || rng.Float64() >= cfg.FailureRate)
		if ctx.Err() != nil {
			return nil // stopped mid-send: the message is not acked and comes again after the restart
		}
		if !ok {
			if err := m.Nak(0); err != nil && !errors.Is(err, mqlog.ErrStaleDelivery) {
				return err
			}
			continue
		}
		err = m.Ack()
		l.mu.Lock()
		l.trail[n.ID] = append(l.trail[n.ID], fmt.Sprintf("phase %d ack: %v", l.phase, err))
		l.mu.Unlock()
		if err != nil {
			if errors.Is(err, mqlog.ErrClosed) {
				return nil
			}
			return err
		}
		l.mu.Lock()
		l.acked[n.ID] = true
		l.report.Sent++
		l.mu.Unlock()
	}
}

// attempt is the fake provider: a poison notification always fails, others fail at random. It checks
// the delivery promises as it goes.
func (l *ledger) attempt(n notification, m *mqlog.QueueMessage, succeed bool) bool {
	l.mu.Lock()
	k := m.Topic + "/" + n.Customer
	if l.inFlight[k] {
		l.violation("%s: two notifications in flight at once", k)
	}
	l.inFlight[k] = true
	want := l.byID[n.ID]
	if !want.DeliverAt.IsZero() && time.Now().Before(want.DeliverAt.Truncate(time.Millisecond)) {
		l.violation("reminder %s sent %v before its time", n.ID, want.DeliverAt.Sub(time.Now()))
	}
	if l.acked[n.ID] {
		l.violation("%s sent again after its ack", n.ID)
	}
	if want.DeliverAt.IsZero() && m.Deliveries == 1 {
		if n.Seq <= l.lastSeq[k] {
			l.violation("%s: seq %d sent after %d", k, n.Seq, l.lastSeq[k])
		}
		l.lastSeq[k] = n.Seq
	}
	if at, ok := l.enqueued[n.ID]; ok && m.Deliveries == 1 && want.DeliverAt.IsZero() {
		w := &l.waits[m.Priority]
		w.total += time.Since(at)
		w.n++
	}
	l.report.Attempts++
	l.mu.Unlock()

	time.Sleep(time.Millisecond) // the provider's round trip
	ok := succeed && !n.Poison

	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight[k] = false
	l.trail[n.ID] = append(l.trail[n.ID], fmt.Sprintf("phase %d delivery %d sent %v", l.phase, m.Deliveries, ok))
	if ok {
		l.sends[n.ID]++
	} else {
		l.report.Failures++
	}
	return ok
}

// notDone says what a run that did not finish left: the notifications not acked (at most 10, with their
// successful sends), and the senders group's state of each partition.
func (l *ledger) notDone(db *mqlog.DB) string {
	l.mu.Lock()
	var left []string
	for id, n := range l.byID {
		if !n.Poison && !l.acked[id] {
			left = append(left, fmt.Sprintf("%s (%s, urgent %v, reminder %v, sent %d: %s)", id, topicOf(n), n.Urgent,
				!n.DeliverAt.IsZero(), l.sends[id], strings.Join(l.trail[id], "; ")))
		}
	}
	l.mu.Unlock()
	sort.Strings(left)
	more := ""
	if len(left) > 10 {
		left, more = left[:10], fmt.Sprintf(" and %d more", len(left)-10)
	}
	states, err := db.QueueGroupState("senders")
	return fmt.Sprintf("not acked: %s%s; the senders group: %+v (%v)", strings.Join(left, ", "), more, states, err)
}

// allDone reports whether every notification of the run is acked or dead-lettered.
func (l *ledger) allDone(db *mqlog.DB) bool {
	l.mu.Lock()
	acked := 0
	for id, n := range l.byID {
		if !n.Poison && l.acked[id] {
			acked++
		}
	}
	sent, poison := acked == len(l.byID)-l.report.Poison, l.report.Poison
	l.mu.Unlock()
	if !sent {
		return false
	}
	dead := map[string]bool{}
	if _, err := db.TopicConfig(deadLetters); err == nil {
		for rec, err := range db.Read(deadLetters, 0, 0) {
			if err != nil {
				return false
			}
			var n notification
			if json.Unmarshal(rec.Value, &n) == nil {
				dead[n.ID] = true
			}
		}
	}
	return len(dead) == poison
}
