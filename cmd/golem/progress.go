package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/store"
)

// progressView renders a stream of progress events the way Ollama's CLI
// does. On a terminal it redraws one line per status and one bar per
// transfer (percentage, bar, sizes, speed, time left) in place; otherwise
// it prints each status once and each transfer when it starts and ends.
type progressView struct {
	w    io.Writer
	tty  bool
	now  func() time.Time
	quit chan struct{}

	mu       sync.Mutex
	lines    []*progressLine
	byKey    map[string]*progressLine
	drawn    int
	lastDraw time.Time
	spin     int
}

type progressLine struct {
	label            string
	bar              bool
	total, completed int64
	samples          []rateSample // recent (time, completed) pairs for the speed
	printedPct       int          // last 10% step printed without a terminal
	printedDone      bool
}

type rateSample struct {
	t time.Time
	n int64
}

func newProgressView(w io.Writer) *progressView {
	p := &progressView{w: w, tty: isTerminalWriter(w), now: time.Now, byKey: map[string]*progressLine{}, quit: make(chan struct{})}
	if p.tty {
		// Keep the spinner turning while a step (verifying a large blob,
		// quantizing) sends no events.
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.quit:
					return
				case <-t.C:
					p.mu.Lock()
					if len(p.lines) > 0 && p.now().Sub(p.lastDraw) >= 100*time.Millisecond {
						p.drawLocked()
					}
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// event takes one progress event.
func (p *progressView) event(e store.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := e.Status
	isBar := e.Total > 0 && (e.Digest != "" || strings.HasPrefix(e.Status, "copying") || strings.HasPrefix(e.Status, "quantizing"))
	if isBar && e.Digest != "" {
		key = e.Digest
	}
	l := p.byKey[key]
	fresh := l == nil
	if fresh {
		l = &progressLine{}
		p.byKey[key] = l
		p.lines = append(p.lines, l)
	}
	l.bar = isBar
	l.label = e.Status
	if e.Digest != "" && (strings.HasPrefix(e.Status, "pulling ") || strings.HasPrefix(e.Status, "pushing ")) {
		l.label += "..."
	}
	if isBar {
		l.total, l.completed = e.Total, e.Completed
		now := p.now()
		l.samples = append(l.samples, rateSample{now, e.Completed})
		for len(l.samples) > 2 && now.Sub(l.samples[0].t) > 5*time.Second {
			l.samples = l.samples[1:]
		}
	}
	if p.tty {
		// Redraw at most ten times a second, but always on a new line or
		// a finished transfer.
		if fresh || (isBar && e.Completed >= e.Total) || p.now().Sub(p.lastDraw) >= 100*time.Millisecond {
			p.drawLocked()
		}
		return
	}
	if !isBar && fresh {
		fmt.Fprintln(p.w, l.label)
	}
	// Without a terminal, a large transfer prints a line every 10% so
	// that logs show it moving.
	if pct := percent(e.Completed, e.Total); isBar && e.Total >= 10_000_000 && pct/10 > l.printedPct/10 && pct < 100 {
		l.printedPct = pct
		fmt.Fprintf(p.w, "%s %3d%% %s/%s\n", l.label, pct, store.HumanBytes(e.Completed), store.HumanBytes(e.Total))
	}
	if isBar && e.Completed >= e.Total && !l.printedDone {
		l.printedDone = true
		fmt.Fprintf(p.w, "%s 100%% %s\n", l.label, store.HumanBytes(e.Total))
	}
}

// stop draws the final state.
func (p *progressView) stop() {
	close(p.quit)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.spin = -1
		p.drawLocked()
	}
}

func percent(done, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(done * 100 / total)
}

func (p *progressView) drawLocked() {
	p.lastDraw = p.now()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	spinner := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	for i, l := range p.lines {
		b.WriteString("\r\x1b[2K")
		if l.bar {
			b.WriteString(p.barText(l))
		} else {
			b.WriteString(l.label)
			if i == len(p.lines)-1 && p.spin >= 0 {
				b.WriteString(" " + spinner[p.spin%len(spinner)])
				p.spin++
			}
		}
		b.WriteString("\n")
	}
	p.drawn = len(p.lines)
	io.WriteString(p.w, b.String())
}

// barText renders "label  45% ▕████      ▏ 2.1 GB/4.7 GB  52 MB/s  49s".
func (p *progressView) barText(l *progressLine) string {
	pct := percent(l.completed, l.total)
	const width = 25
	fill := int(int64(width) * min(l.completed, l.total) / max(l.total, 1))
	bar := "▕" + strings.Repeat("█", fill) + strings.Repeat(" ", width-fill) + "▏"
	if l.completed >= l.total {
		return fmt.Sprintf("%s %3d%% %s %s", l.label, pct, bar, store.HumanBytes(l.total))
	}
	s := fmt.Sprintf("%s %3d%% %s %s/%s", l.label, pct, bar, store.HumanBytes(l.completed), store.HumanBytes(l.total))
	if n := len(l.samples); n >= 2 {
		first, last := l.samples[0], l.samples[n-1]
		if dt := last.t.Sub(first.t).Seconds(); dt > 0 && last.n > first.n {
			rate := float64(last.n-first.n) / dt
			eta := time.Duration(float64(l.total-l.completed) / rate * float64(time.Second))
			s += fmt.Sprintf("  %s/s  %s", store.HumanBytes(int64(rate)), eta.Round(time.Second))
		}
	}
	return s
}
