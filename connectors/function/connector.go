package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// Interface guards.
var (
	_ botrelay.VendorConnector = Connector{}
	_ botrelay.HealthChecker   = (*Bot)(nil)
	_ botrelay.HookableBot     = (*Bot)(nil)
)

// Error-log codes (spec Appendix A, without botrelay.ErrorCodePrefix).
const (
	CodeInvokeLambda        = "aivendor.faas.invoke-lambda"
	CodeMissingResponseBody = "aivendor.faas.missing-response-body"
)

// errorCodes are the codes above, as docs/vendors/function.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeInvokeLambda, Codes: []string{CodeInvokeLambda, CodeMissingResponseBody}}

// Limits of the settings and of a call.
const (
	DefaultTimeout       = 30 * time.Second
	MaxTimeout           = 60 * time.Second
	DefaultMemoryLimitMB = 64
	MinMemoryLimitMB     = 8
	MaxMemoryLimitMB     = 1024
	// MaxCodeBytes bounds the script's source.
	MaxCodeBytes = 1 << 20
	// MaxSessionBytes bounds the session a function keeps (its VendorState).
	MaxSessionBytes = 64 << 10
	// MaxResultBytes bounds the JSON of a callback result.
	MaxResultBytes = 4 << 20
)

// Connector is the "function" vendor connector. Its zero value is ready.
type Connector struct{}

// Info implements botrelay.VendorConnector.
func (Connector) Info() botrelay.VendorInfo {
	// A call is never retried: it runs in-process, so a script that failed
	// or ran out of time would do the same again (the reference product's
	// functions are not retried either, F42).
	return botrelay.VendorInfo{ID: "function", DisplayName: "JavaScript function", Secrets: nil, Survey: true,
		RetriesInternally: true, Errors: errorCodes, Fields: settingFields}
}

// Settings are the bot's vendor settings.
type Settings struct {
	// Code is the JavaScript source defining lambda(input, callback).
	Code string `json:"code"`
	// TimeoutMs bounds each call, 1..60000. Default: 30000.
	TimeoutMs int `json:"timeoutMs,omitempty"`
	// MemoryLimitMB is the memory guard's limit per call, 8..1024. Default: 64.
	MemoryLimitMB int `json:"memoryLimitMB,omitempty"`
	// Env is exposed to the script as process.env.
	Env map[string]string `json:"env,omitempty"`
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseSettings decodes and checks settings, filling in the defaults. Errors
// are EINVALID *botrelay.Error values whose message names the field.
func ParseSettings(cfg json.RawMessage) (*Settings, error) {
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && strings.HasPrefix(te.Field, "env"):
			return nil, botrelay.Errorf(botrelay.EINVALID, "env: must be an object of strings")
		case errors.As(err, &te) && te.Field != "":
			return nil, botrelay.Errorf(botrelay.EINVALID, "%s: must be %s", te.Field, jsonKind(te.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, botrelay.Errorf(botrelay.EINVALID, "%s: unknown setting", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		default:
			return nil, botrelay.Errorf(botrelay.EINVALID, "settings: not a JSON object")
		}
	}
	if dec.More() {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings: not a JSON object")
	}
	if strings.TrimSpace(s.Code) == "" {
		return nil, botrelay.Errorf(botrelay.EINVALID, "code: is required")
	}
	if len(s.Code) > MaxCodeBytes {
		return nil, botrelay.Errorf(botrelay.EINVALID, "code: longer than %d bytes", MaxCodeBytes)
	}
	if s.TimeoutMs == 0 {
		s.TimeoutMs = int(DefaultTimeout / time.Millisecond)
	}
	if s.TimeoutMs < 1 || s.TimeoutMs > int(MaxTimeout/time.Millisecond) {
		return nil, botrelay.Errorf(botrelay.EINVALID, "timeoutMs: must be between 1 and %d", MaxTimeout/time.Millisecond)
	}
	if s.MemoryLimitMB == 0 {
		s.MemoryLimitMB = DefaultMemoryLimitMB
	}
	if s.MemoryLimitMB < MinMemoryLimitMB || s.MemoryLimitMB > MaxMemoryLimitMB {
		return nil, botrelay.Errorf(botrelay.EINVALID, "memoryLimitMB: must be between %d and %d", MinMemoryLimitMB, MaxMemoryLimitMB)
	}
	for k := range s.Env {
		if !envName.MatchString(k) {
			return nil, botrelay.Errorf(botrelay.EINVALID, "env: %q is not a valid variable name", k)
		}
	}
	return &s, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64":
		return "an integer"
	case "string":
		return "a string"
	}
	return "of another type"
}

// Compile parses and compiles a script. A syntax error is an EINVALID error
// naming the line, e.g. "code: SyntaxError at line 3: Unexpected token".
func Compile(code string) (*goja.Program, error) {
	ast, err := parser.ParseFile(nil, scriptName, code, 0)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			return nil, botrelay.Errorf(botrelay.EINVALID, "code: SyntaxError at line %d: %s", list[0].Position.Line, list[0].Message)
		}
		return nil, botrelay.Errorf(botrelay.EINVALID, "code: SyntaxError: %s", err)
	}
	prog, err := goja.CompileAST(ast, false)
	if err != nil {
		var se *goja.CompilerSyntaxError
		if errors.As(err, &se) && se.File != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "code: SyntaxError at line %d: %s", se.File.Position(se.Offset).Line, se.Message)
		}
		return nil, botrelay.Errorf(botrelay.EINVALID, "code: %s", err)
	}
	return prog, nil
}

// scriptName is the file name the script has in stack traces.
const scriptName = "lambda.js"

// NewBot implements botrelay.VendorConnector. It compiles the script (no
// I/O, nothing of the script runs).
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	s, err := ParseSettings(cfg)
	if err != nil {
		return nil, err
	}
	prog, err := Compile(s.Code)
	if err != nil {
		return nil, err
	}
	b := &Bot{
		id:       env.BotID,
		log:      env.Logger,
		now:      env.Now,
		prog:     prog,
		timeout:  time.Duration(s.TimeoutMs) * time.Millisecond,
		memLimit: uint64(s.MemoryLimitMB) << 20,
		env:      s.Env,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.log = b.log.With("bot_id", env.BotID, "vendor", "function")
	if b.now == nil {
		b.now = time.Now
	}
	return b, nil
}

// Bot is one function bot. It is safe for concurrent use: every call runs in
// its own runtime.
type Bot struct {
	id       botrelay.BotID
	log      *slog.Logger
	now      func() time.Time
	prog     *goja.Program
	timeout  time.Duration
	memLimit uint64
	env      map[string]string
}

// Converse implements botrelay.VendorBot: it calls lambda(input, callback)
// with the turn and translates the callback's result.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t)
}

// HookInfo implements botrelay.HookableBot, with the reference product's
// names for Custom Integration bots.
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "CustomIntegration", RequestKey: "faasPayload", ResponseKey: "faas"}
}

// BuildRequest implements botrelay.HookableBot: the function's input.
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	return buildInput(t, sessionIn(t.VendorState))
}

// Exchange implements botrelay.HookableBot: it calls the function with
// input and returns the callback's result and the conversation's session.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, input json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		// The caller gave up (the relay stopping, or its deadline).
		return nil, nil, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, CodeInvokeLambda, "the function was not run: %v", err)
	}
	log := b.log.With("conversation_id", t.Conversation.ID)
	out, err := b.invoke(ctx, log, input)
	if err != nil {
		return nil, nil, err
	}
	state, err := sessionOut(sessionIn(t.VendorState), out.session)
	if err != nil {
		return nil, nil, err
	}
	return out.result, state, nil
}

// ParseResponse implements botrelay.HookableBot: it translates a callback
// result.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, result json.RawMessage) (*botrelay.Reply, error) {
	return parseResult(result)
}

// CheckHealth implements botrelay.HealthChecker: it runs the script's top
// level in a fresh runtime and checks that it defines the function. No I/O.
func (b *Bot) CheckHealth(ctx context.Context) error {
	_, err := b.invoke(ctx, b.log, nil)
	return err
}

// invokeError builds the error of a failed call.
func invokeError(class error, code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return botrelay.NewVendorError(class, code, "%s", msg)
}
