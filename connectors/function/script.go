package function

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/botrelay/botrelay"
)

var _ botrelay.ScriptRunner = (*Runner)(nil)

// Runner runs the functions a bot's replies invoke (INVOKE_FUNCTION, F30):
// scripts in the same shape and sandbox as function bots, called as
// lambda(input, callback) with input {"headers": [], "payload": …}. It
// implements botrelay.ScriptRunner and is safe for concurrent use; compiled
// scripts are cached by their source.
type Runner struct {
	// Logger receives the scripts' console output at debug.
	Logger *slog.Logger
	// Timeout bounds each call. Default: 30s (LivePerson Functions' limit).
	Timeout time.Duration

	cache sync.Map // sha256 of the code → *goja.Program
}

// RunScript implements botrelay.ScriptRunner: it returns the JSON the
// function called back with. A function that throws, calls back with an
// error or runs out of time gives an aivendor.faas.invoke-lambda error.
func (r *Runner) RunScript(ctx context.Context, code string, input json.RawMessage) (json.RawMessage, error) {
	key := sha256.Sum256([]byte(code))
	prog, ok := r.cache.Load(key)
	if !ok {
		p, err := Compile(code)
		if err != nil {
			return nil, err
		}
		prog, _ = r.cache.LoadOrStore(key, p)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bot{log: log, now: time.Now, prog: prog.(*goja.Program), timeout: timeout, memLimit: uint64(DefaultMemoryLimitMB) << 20}
	if len(input) == 0 {
		input = json.RawMessage(`{"headers":[],"payload":{}}`)
	}
	out, err := b.invoke(ctx, log, input)
	if err != nil {
		return nil, err
	}
	return out.result, nil
}
