package function

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/dop251/goja"

	"github.com/botrelay/botrelay"
)

// Sandbox limits that are not settings.
const (
	maxCallStack    = 10000
	maxConsoleLines = 100
	maxConsoleBytes = 4 << 10
	maxTimers       = 10000
)

// lookupLambda reads the global binding lambda, lexical ones included.
var lookupLambda = goja.MustCompile("lookup.js", `typeof lambda === "function" ? lambda : undefined`, false)

// Interrupt reasons passed to goja's Interrupt.
type interruptReason int

const (
	stopDeadline interruptReason = iota + 1 // the call's context is done
	stopMemory                              // the memory guard tripped
	stopAnswered                            // the callback was called
)

// outcome is what a call produced when the callback was called.
type outcome struct {
	result  []byte // the result's JSON
	session []byte // the session's JSON; nil when it is undefined
}

// call is one invocation: one runtime, used on the calling goroutine only
// (Interrupt is the only method called from elsewhere).
type call struct {
	bot *Bot
	vm  *goja.Runtime
	log *slog.Logger

	parse, stringify goja.Callable // captured before the script runs
	input            *goja.Object

	answered bool // the callback was called
	out      outcome
	err      error // from the callback: callback(err), or a bad result

	consoleLines int
	timers       timerQueue
	timerSeq     int64
	nextTimerID  int64
	clock        float64 // virtual milliseconds
}

// invoke runs the script in a fresh runtime. With input nil it only checks
// that the script defines the function (CheckHealth); otherwise it calls the
// function and returns what it answered.
func (b *Bot) invoke(ctx context.Context, log *slog.Logger, input []byte) (*outcome, error) {
	runCtx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	vm := goja.New()
	c := &call{bot: b, vm: vm, log: log}
	stop := context.AfterFunc(runCtx, func() { vm.Interrupt(stopDeadline) })
	defer stop()
	guard := watchdog.add(vm, b.memLimit)
	defer watchdog.remove(guard)

	err := c.run(input)
	if c.answered {
		if c.err != nil {
			return nil, c.err
		}
		return &c.out, nil
	}
	if err == nil && input != nil {
		return nil, invokeError(botrelay.ErrVendorBadReply, CodeMissingResponseBody, "the function finished without calling the callback")
	}
	if err == nil {
		return nil, nil
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		switch {
		case guard.tripped.Load():
			return nil, invokeError(botrelay.ErrVendorUnavailable, CodeInvokeLambda, "the function used more than the memory limit of %d MB", b.memLimit>>20)
		case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, fmt.Errorf("%w: %w", invokeError(botrelay.ErrVendorUnavailable, CodeInvokeLambda, "the call was cancelled"), ctx.Err())
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%w: %w", invokeError(botrelay.ErrVendorUnavailable, CodeInvokeLambda, "the function did not answer before the call's deadline"), context.DeadlineExceeded)
		default:
			return nil, fmt.Errorf("%w: %w", invokeError(botrelay.ErrVendorUnavailable, CodeInvokeLambda, "the function did not answer within %v", b.timeout), context.DeadlineExceeded)
		}
	}
	var be *botrelay.VendorError
	if errors.As(err, &be) {
		return nil, err
	}
	return nil, invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the function threw: %s", jsErrorText(err))
}

// run sets the runtime up, runs the script and calls the function. It
// returns the error that stopped the script, if any.
func (c *call) run(input []byte) error {
	vm := c.vm
	vm.SetMaxCallStackSize(maxCallStack)
	vm.SetTimeSource(c.bot.now)
	if err := c.install(); err != nil {
		return err
	}
	if _, err := vm.RunProgram(c.bot.prog); err != nil {
		return err
	}
	fn, err := c.lambda()
	if err != nil {
		return err
	}
	if input == nil {
		return nil
	}
	in, err := c.parse(goja.Undefined(), vm.ToValue(string(input)))
	if err != nil {
		return err
	}
	c.input = in.ToObject(vm)
	ret, err := fn(goja.Undefined(), in, vm.ToValue(c.callback))
	if err != nil || c.answered {
		return err
	}
	if err := c.runTimers(); err != nil || c.answered {
		return err
	}
	// An async function that threw before answering: report its reason.
	if p, ok := ret.Export().(*goja.Promise); ok && p.State() == goja.PromiseStateRejected {
		return invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the function's promise was rejected: %s", c.describeOutside(p.Result()))
	}
	return nil
}

// install puts the sandbox's globals and guards in place.
func (c *call) install() error {
	vm := c.vm
	g := vm.GlobalObject()
	json := g.Get("JSON").ToObject(vm)
	c.parse, _ = goja.AssertFunction(json.Get("parse"))
	c.stringify, _ = goja.AssertFunction(json.Get("stringify"))

	c.installGuards()

	console := vm.NewObject()
	for _, level := range []string{"log", "info", "warn", "error", "debug", "trace"} {
		_ = console.Set(level, c.consoleFunc(level))
	}
	_ = g.Set("console", console)

	env := vm.NewObject()
	for _, k := range slices.Sorted(maps.Keys(c.bot.env)) {
		_ = env.Set(k, c.bot.env[k])
	}
	process := vm.NewObject()
	_ = process.Set("env", env)
	_ = g.Set("process", process)

	module := vm.NewObject()
	exports := vm.NewObject()
	_ = module.Set("exports", exports)
	_ = g.Set("module", module)
	_ = g.Set("exports", exports)

	_ = g.Set("setTimeout", c.setTimer(false))
	_ = g.Set("setInterval", c.setTimer(true))
	_ = g.Set("setImmediate", func(call goja.FunctionCall) goja.Value {
		return c.addTimer(call.Argument(0), 0, false, call.Arguments[min(1, len(call.Arguments)):])
	})
	clear := func(call goja.FunctionCall) goja.Value {
		c.timers.cancel(call.Argument(0).ToInteger())
		return goja.Undefined()
	}
	_ = g.Set("clearTimeout", clear)
	_ = g.Set("clearInterval", clear)
	_ = g.Set("clearImmediate", clear)
	return nil
}

// lambda finds the function to call.
func (c *call) lambda() (goja.Callable, error) {
	g := c.vm.GlobalObject()
	// A global function, var, or top-level let/const (not on the global object).
	v, err := c.vm.RunProgram(lookupLambda)
	if err != nil {
		return nil, err
	}
	if fn, ok := goja.AssertFunction(v); ok {
		return fn, nil
	}
	if m, ok := g.Get("module").(*goja.Object); ok {
		exp := m.Get("exports")
		if fn, ok := goja.AssertFunction(exp); ok {
			return fn, nil
		}
		if o, ok := exp.(*goja.Object); ok {
			if fn, ok := goja.AssertFunction(o.Get("lambda")); ok {
				return fn, nil
			}
		}
	}
	if o, ok := g.Get("exports").(*goja.Object); ok {
		if fn, ok := goja.AssertFunction(o.Get("lambda")); ok {
			return fn, nil
		}
	}
	return nil, invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the script defines no function lambda(input, callback)")
}

// callback is the function's callback(err, result). The first call wins; it
// ends the invocation.
func (c *call) callback(call goja.FunctionCall) goja.Value {
	if c.answered {
		return goja.Undefined()
	}
	c.answered = true
	defer c.vm.Interrupt(stopAnswered)
	if e := call.Argument(0); !goja.IsUndefined(e) && !goja.IsNull(e) {
		c.err = invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the function returned an error: %s", c.describe(e))
		return goja.Undefined()
	}
	res := call.Argument(1)
	if goja.IsUndefined(res) || goja.IsNull(res) {
		c.err = invokeError(botrelay.ErrVendorBadReply, CodeMissingResponseBody, "the function called back without a result")
		return goja.Undefined()
	}
	text, err := c.toJSON(res)
	if err != nil {
		c.err = invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the result is not JSON: %s", jsErrorText(err))
		return goja.Undefined()
	}
	if len(text) > MaxResultBytes {
		c.err = invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the result is larger than %d bytes", MaxResultBytes)
		return goja.Undefined()
	}
	c.out.result = []byte(text)
	// The session: context.session of the result when present, else the
	// (possibly changed) input.payload.context.session.
	session := goja.Undefined()
	if o, ok := res.(*goja.Object); ok {
		if ctx, ok := o.Get("context").(*goja.Object); ok && hasOwn(ctx, "session") {
			session = ctx.Get("session")
			if goja.IsUndefined(session) {
				session = goja.Null()
			}
		} else if p, ok := c.input.Get("payload").(*goja.Object); ok {
			if ctx, ok := p.Get("context").(*goja.Object); ok {
				session = ctx.Get("session")
			}
		}
	}
	if !goja.IsUndefined(session) {
		text, err := c.toJSON(session)
		if err != nil {
			c.err = invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "the session is not JSON: %s", jsErrorText(err))
			return goja.Undefined()
		}
		c.out.session = []byte(text)
	}
	return goja.Undefined()
}

func hasOwn(o *goja.Object, key string) bool {
	for _, k := range o.Keys() {
		if k == key {
			return true
		}
	}
	return false
}

// toJSON is the runtime's own JSON.stringify of v.
func (c *call) toJSON(v goja.Value) (string, error) {
	s, err := c.stringify(goja.Undefined(), v)
	if err != nil {
		propagateInterrupt(err)
		return "", err
	}
	if goja.IsUndefined(s) {
		return "null", nil
	}
	return s.String(), nil
}

// propagateInterrupt re-raises an interrupt met by a nested call so that it
// stops the script instead of being swallowed by a native function.
func propagateInterrupt(err error) {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		panic(ie)
	}
}

// describe renders an error value or rejection reason for a message.
func (c *call) describe(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		msg := o.Get("message")
		if msg != nil && !goja.IsUndefined(msg) {
			name := o.Get("name")
			if name != nil && !goja.IsUndefined(name) {
				return name.String() + ": " + msg.String()
			}
			return msg.String()
		}
		if s, err := c.toJSON(v); err == nil {
			return s
		}
	}
	return v.String()
}

// describeOutside is describe for use when no JavaScript is running: a
// getter that throws, or an interrupt, must not panic through the caller.
func (c *call) describeOutside(v goja.Value) (s string) {
	defer func() {
		if recover() != nil {
			s = "(a value that cannot be shown)"
		}
	}()
	return c.describe(v)
}

// jsErrorText is the text of an error a script raised.
func jsErrorText(err error) string {
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return "RangeError: Maximum call stack size exceeded " + strings.TrimSpace(so.Error())
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		text := "exception"
		if v := ex.Value(); v != nil {
			text = v.String()
		}
		// Point at the script's own line, not at built-ins.
		for _, f := range ex.Stack() {
			if f.SrcName() == scriptName {
				p := f.Position()
				return fmt.Sprintf("%s (%s:%d:%d)", text, scriptName, p.Line, p.Column)
			}
		}
		return text
	}
	return err.Error()
}

// consoleFunc captures console.<level> to the bot's logger at debug level.
func (c *call) consoleFunc(level string) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		defer func() {
			// Never raise from console, but let interrupts through.
			if x := recover(); x != nil {
				if ie, ok := x.(*goja.InterruptedError); ok {
					panic(ie)
				}
			}
		}()
		if c.consoleLines >= maxConsoleLines {
			return goja.Undefined()
		}
		c.consoleLines++
		var sb strings.Builder
		for i, a := range call.Arguments {
			if i > 0 {
				sb.WriteByte(' ')
			}
			switch {
			case a == nil || goja.IsUndefined(a):
				sb.WriteString("undefined")
			case goja.IsNull(a):
				sb.WriteString("null")
			default:
				if _, isObj := a.(*goja.Object); isObj {
					if _, isFn := goja.AssertFunction(a); !isFn {
						if s, err := c.toJSON(a); err == nil {
							sb.WriteString(s)
							break
						}
					}
				}
				sb.WriteString(a.String())
			}
			if sb.Len() > maxConsoleBytes {
				break
			}
		}
		msg := sb.String()
		if len(msg) > maxConsoleBytes {
			msg = msg[:maxConsoleBytes] + "…"
		}
		c.log.Debug("function console", "console_level", level, "message", msg)
		return goja.Undefined()
	}
}

// Timers run on a virtual clock: after the function returned and its
// promise jobs ran, the earliest timer fires, and so on until the callback
// is called or no timer is left.

type timer struct {
	id       int64
	due      float64
	seq      int64
	fn       goja.Callable
	args     []goja.Value
	interval float64 // > 0 for setInterval
	index    int
	canceled bool
}

type timerQueue struct {
	items []*timer
	byID  map[int64]*timer
}

func (q *timerQueue) Len() int { return len(q.items) }
func (q *timerQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	return a.due < b.due || (a.due == b.due && a.seq < b.seq)
}
func (q *timerQueue) Swap(i, j int) {
	q.items[i], q.items[j] = q.items[j], q.items[i]
	q.items[i].index, q.items[j].index = i, j
}
func (q *timerQueue) Push(x any) {
	t := x.(*timer)
	t.index = len(q.items)
	q.items = append(q.items, t)
}
func (q *timerQueue) Pop() any {
	t := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return t
}

func (q *timerQueue) cancel(id int64) {
	if t, ok := q.byID[id]; ok {
		t.canceled = true
		heap.Remove(q, t.index)
		delete(q.byID, id)
	}
}

func (c *call) setTimer(interval bool) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		delay := call.Argument(1).ToFloat()
		if !(delay >= 1) { // NaN, negative and below 1 ms become 1, as in Node.js
			delay = 1
		}
		return c.addTimer(call.Argument(0), delay, interval, call.Arguments[min(2, len(call.Arguments)):])
	}
}

func (c *call) addTimer(fnv goja.Value, delay float64, interval bool, args []goja.Value) goja.Value {
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		panic(c.vm.NewTypeError("the callback must be a function"))
	}
	if c.timers.Len() >= maxTimers {
		panic(c.vm.NewGoError(fmt.Errorf("more than %d pending timers", maxTimers)))
	}
	if c.timers.byID == nil {
		c.timers.byID = map[int64]*timer{}
	}
	c.nextTimerID++
	c.timerSeq++
	t := &timer{id: c.nextTimerID, due: c.clock + delay, seq: c.timerSeq, fn: fn, args: append([]goja.Value(nil), args...)}
	if interval {
		t.interval = delay
	}
	heap.Push(&c.timers, t)
	c.timers.byID[t.id] = t
	return c.vm.ToValue(t.id)
}

func (c *call) runTimers() error {
	for c.timers.Len() > 0 && !c.answered {
		t := heap.Pop(&c.timers).(*timer)
		c.clock = t.due
		if t.interval > 0 {
			c.timerSeq++
			t.due, t.seq = c.clock+t.interval, c.timerSeq
			heap.Push(&c.timers, t)
		} else {
			delete(c.timers.byID, t.id)
		}
		if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
			return err
		}
	}
	return nil
}

// marshal is json.Marshal for values that cannot fail.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
