package pipelines

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// ScriptError is an error raised by or inside a pipeline script.
type ScriptError struct {
	Pipeline string // pipeline id
	File     string // script file name (<id>.star); empty when unknown
	Line     int    // 1-based; 0 when unknown
	Col      int
	Msg      string
	// Blocked is true when the script called fail(): a filter refusing a
	// request on purpose. Its message is meant for the end user.
	Blocked bool
}

func (e *ScriptError) Error() string {
	if e.Blocked || e.Line == 0 {
		if e.File != "" && !e.Blocked {
			return e.File + ": " + e.Msg
		}
		return e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// blockError is what fail() raises.
type blockError struct{ msg string }

func (e *blockError) Error() string { return e.msg }

// limitError is raised by the guards when a call goes over a limit.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// call is the per-call state every builtin reaches through the thread.
type call struct {
	ctx    context.Context // ends at the call's time limit
	reqCtx context.Context // the request's; streams a pipe returns live on it
	p      *instance
	lim    *Limits
	alloc  int64
	// emit sends one chunk of a pipe's answer; nil outside pipe().
	emit func(string) error
	// why records the reason for cancelling the thread, for the message.
	why atomic.Pointer[string]
	// inEmit is set while emit() hands a chunk to the client, which may
	// be slow to read: a call stuck there is not the script's fault.
	inEmit atomic.Bool
	// inUpdate is set while state.update runs its function, to refuse
	// re-entry (which would deadlock on the state lock).
	inUpdate bool

	mu      sync.Mutex
	streams []*chunkStream
}

func (c *call) addStream(s *chunkStream) {
	c.mu.Lock()
	c.streams = append(c.streams, s)
	c.mu.Unlock()
}

// closeStreams ends the streams the call opened, except keep (the one a
// pipe returned for the server to forward).
func (c *call) closeStreams(keep starlark.Value) {
	c.mu.Lock()
	streams := c.streams
	c.streams = nil
	c.mu.Unlock()
	for _, s := range streams {
		if starlark.Value(s) != keep {
			s.close()
		}
	}
}

const callKey = "golem.pipelines.call"

func callOf(thread *starlark.Thread) *call {
	c, _ := thread.Local(callKey).(*call)
	return c
}

// account adds the size of a value the call just built to its allocation
// budget, and checks the value's own size.
func (c *call) account(v starlark.Value) error {
	if c == nil {
		return nil
	}
	var n int64
	switch x := v.(type) {
	case starlark.String:
		if len(x) > c.lim.MaxString {
			return c.tooLong(len(x))
		}
		n = int64(len(x))
	case starlark.Bytes:
		if len(x) > c.lim.MaxString {
			return c.tooLong(len(x))
		}
		n = int64(len(x))
	case *starlark.List:
		if x.Len() > c.lim.MaxElems {
			return c.tooMany(x.Len())
		}
		n = 16 * int64(x.Len())
	case starlark.Tuple:
		if len(x) > c.lim.MaxElems {
			return c.tooMany(len(x))
		}
		n = 16 * int64(len(x))
	case *starlark.Dict:
		if x.Len() > c.lim.MaxElems {
			return c.tooMany(x.Len())
		}
		n = 64 * int64(x.Len())
	case *starlark.Set:
		if x.Len() > c.lim.MaxElems {
			return c.tooMany(x.Len())
		}
		n = 48 * int64(x.Len())
	case starlark.Int:
		if b := x.BigInt(); b.BitLen() > c.lim.MaxIntBits {
			return &limitError{fmt.Sprintf("integer of %d bits exceeds the sandbox limit of %d bits", b.BitLen(), c.lim.MaxIntBits)}
		}
	default:
		return nil
	}
	return c.charge(n)
}

// charge counts n bytes against the call's budget.
func (c *call) charge(n int64) error {
	if c == nil {
		return nil
	}
	c.alloc += n
	if c.alloc > c.lim.AllocBudget {
		return &limitError{fmt.Sprintf("memory budget exceeded: the call built more than %d MiB of strings and lists", c.lim.AllocBudget>>20)}
	}
	return nil
}

func (c *call) tooLong(n int) error {
	return &limitError{fmt.Sprintf("string of %d bytes exceeds the sandbox limit of %d bytes", n, c.lim.MaxString)}
}

func (c *call) tooMany(n int) error {
	return &limitError{fmt.Sprintf("%d elements exceed the sandbox limit of %d elements", n, c.lim.MaxElems)}
}

// checkLen refuses a string about to be built that would be too long.
func (c *call) checkLen(n uint64) error {
	if n > uint64(c.lim.MaxString) {
		return &limitError{fmt.Sprintf("a string of %d bytes would exceed the sandbox limit of %d bytes", n, c.lim.MaxString)}
	}
	return nil
}

// checkElems refuses a container about to be built that would be too big.
func (c *call) checkElems(n uint64) error {
	if n > uint64(c.lim.MaxElems) {
		return &limitError{fmt.Sprintf("a container of %d elements would exceed the sandbox limit of %d elements", n, c.lim.MaxElems)}
	}
	return nil
}

// errStuck marks a call that did not stop after being cancelled.
var errStuck = errors.New("stuck")

// call runs fn(args) in a fresh thread under the sandbox limits.
func (p *instance) call(ctx context.Context, fn starlark.Value, args starlark.Tuple, timeout time.Duration, emit func(string) error) (starlark.Value, error) {
	return p.run(ctx, timeout, emit, func(thread *starlark.Thread) (starlark.Value, error) {
		return starlark.Call(thread, fn, args, nil)
	})
}

// run runs body in a fresh thread under the sandbox limits. The caller's
// ctx cancels it early; timeout bounds it.
func (p *instance) run(ctx context.Context, timeout time.Duration, emit func(string) error, body func(*starlark.Thread) (starlark.Value, error)) (starlark.Value, error) {
	if p.stuck.Load() {
		return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: "this pipeline is disabled: an earlier call did not stop after its time limit; reload pipelines to enable it"}
	}
	if err := p.mgr.acquire(ctx); err != nil {
		return nil, err
	}
	defer p.mgr.release()
	reqCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &call{ctx: ctx, reqCtx: reqCtx, p: p, lim: &p.mgr.lim, emit: emit}
	thread := p.newThread(c)

	type result struct {
		v   starlark.Value
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.mgr.log.Error("pipeline panicked", "pipeline", p.id, "panic", r, "stack", string(debug.Stack()))
				done <- result{nil, fmt.Errorf("internal error while running the script: %v", r)}
			}
		}()
		v, err := body(thread)
		done <- result{v, err}
	}()
	finish := func(r result) (starlark.Value, error) {
		if r.err != nil {
			c.closeStreams(nil)
			return nil, p.scriptError(c, r.err)
		}
		c.closeStreams(r.v)
		return r.v, nil
	}
	select {
	case r := <-done:
		return finish(r)
	case <-ctx.Done():
	}
	c.closeStreams(nil) // unblocks a script waiting on a model
	why := fmt.Sprintf("time limit of %s exceeded", timeout)
	if errors.Is(context.Cause(ctx), context.Canceled) && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = "the request was cancelled"
	}
	c.why.CompareAndSwap(nil, &why)
	thread.Cancel(why)
	select {
	case r := <-done:
		if r.err == nil {
			// It finished just as the time ran out; a late result is
			// still a result, but streams were closed above.
			r.err = errors.New(why)
		}
		return finish(r)
	case <-time.After(p.mgr.lim.Grace):
	}
	if c.inEmit.Load() {
		return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: why + " while the client was slow to read the answer"}
	}
	// The thread is inside a builtin that does not return (for example
	// hashing an enormous shared structure). Go cannot stop a goroutine:
	// abandon it and disable the pipeline so it cannot pile up more.
	p.stuck.Store(true)
	p.mgr.log.Error("pipeline call did not stop; pipeline disabled until reload", "pipeline", p.id)
	return nil, &ScriptError{Pipeline: p.id, File: p.file, Msg: why + ", and the script did not stop; the pipeline is disabled until pipelines are reloaded"}
}

// newThread makes a thread with the step budget and the call attached.
func (p *instance) newThread(c *call) *starlark.Thread {
	thread := &starlark.Thread{
		Name: p.id,
		Print: func(_ *starlark.Thread, msg string) {
			p.logLine(msg)
		},
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return nil, fmt.Errorf("load(%q): pipelines cannot load other files", module)
		},
	}
	thread.SetLocal(callKey, c)
	thread.SetMaxExecutionSteps(c.lim.Steps)
	thread.OnMaxSteps = func(t *starlark.Thread) {
		why := fmt.Sprintf("step limit of %d exceeded (an endless loop?)", c.lim.Steps)
		c.why.CompareAndSwap(nil, &why)
		t.Cancel(why)
	}
	return thread
}

// scriptError turns a Starlark error into a ScriptError naming the line of
// the script where it happened.
func (p *instance) scriptError(c *call, err error) error {
	if err == nil {
		return nil
	}
	se := &ScriptError{Pipeline: p.id, File: p.file, Msg: err.Error()}
	var be *blockError
	if errors.As(err, &be) {
		se.Msg, se.Blocked = be.msg, true
		return se
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		se.Msg = ee.Msg
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			pos := ee.CallStack[i].Pos
			if pos.Line > 0 && pos.Filename() == p.file {
				se.Line, se.Col = int(pos.Line), int(pos.Col)
				break
			}
		}
	}
	if c != nil {
		if why := c.why.Load(); why != nil {
			if strings.HasPrefix(se.Msg, "Starlark computation cancelled") || strings.HasPrefix(se.Msg, *why) {
				se.Msg = *why
			} else {
				se.Msg = *why + ": " + se.Msg
			}
		}
	}
	se.Msg = hideInternalNames(se.Msg)
	return se
}

// hideInternalNames rewrites the names of the guard builtins that the
// sandbox inserts, so messages read as if the script ran unchanged.
func hideInternalNames(msg string) string {
	if !strings.Contains(msg, "$") {
		return msg
	}
	r := strings.NewReplacer("$add", "+", "$mul", "*", "$mod", "%", "$lsh", "<<",
		"$aug_add", "+=", "$aug_mul", "*=", "$aug_mod", "%=", "$aug_lsh", "<<=", "$dot", "attribute access")
	return r.Replace(msg)
}

// syntaxError turns a parse or resolve error into a ScriptError.
func syntaxError(id, file string, err error) error {
	se := &ScriptError{Pipeline: id, File: file, Msg: err.Error()}
	var serr syntax.Error
	var rlist resolve.ErrorList
	switch {
	case errors.As(err, &serr):
		se.Line, se.Col, se.Msg = int(serr.Pos.Line), int(serr.Pos.Col), serr.Msg
	case errors.As(err, &rlist) && len(rlist) > 0:
		se.Line, se.Col, se.Msg = int(rlist[0].Pos.Line), int(rlist[0].Pos.Col), rlist[0].Msg
		if strings.HasPrefix(se.Msg, "undefined: ") {
			se.Msg += " (pipelines have only Starlark's builtins and http, models, state, re, json, time, log, emit, valve, Valves)"
		}
	}
	se.Msg = hideInternalNames(se.Msg)
	return se
}
