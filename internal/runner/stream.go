package runner

import (
	"context"
	"sync"
	"time"
)

// eventQueue passes events from the runner loop to one consumer without
// ever blocking the loop: a slow client must not stall the whole batch.
type eventQueue struct {
	mu     sync.Mutex
	events []Event
	closed bool
	notify chan struct{}
}

func newEventQueue() *eventQueue { return &eventQueue{notify: make(chan struct{}, 1)} }

func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	if !q.closed {
		q.events = append(q.events, ev)
		if ev.Done {
			q.closed = true
		}
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Stream is the consumer's end of a request's events.
type Stream struct {
	q   *eventQueue
	buf []Event
}

// Next returns the next event, waiting for it. After the Done event it
// returns ok == false. If ctx ends first it returns ctx's error in a Done
// event (the runner notices the request's own context separately).
func (s *Stream) Next(ctx context.Context) (ev Event, ok bool) {
	for {
		if len(s.buf) > 0 {
			ev, s.buf = s.buf[0], s.buf[1:]
			return ev, true
		}
		s.q.mu.Lock()
		s.buf, s.q.events = s.q.events, s.buf[:0]
		closed := s.q.closed
		s.q.mu.Unlock()
		if len(s.buf) > 0 {
			continue
		}
		if closed {
			return Event{}, false
		}
		select {
		case <-s.q.notify:
		case <-ctx.Done():
			return Event{Done: true, Err: ctx.Err()}, true
		}
	}
}

// finish ends the job: it flushes held-back text (unless it failed), and
// sends the final event with its statistics.
func (j *job) finish(err error) {
	if err == nil {
		err = j.err
	}
	if err == nil {
		j.stop.write(j.dec.Flush())
		j.stop.flush()
		if j.text != "" {
			j.out.push(Event{Text: j.text})
			j.text = ""
		}
	}
	if !j.evalStart.IsZero() && j.decoding {
		j.stats.EvalDuration = time.Since(j.evalStart)
	}
	j.stats.TotalDuration = time.Since(j.start)
	j.out.push(Event{Done: true, Stats: j.stats, Err: err})
}
