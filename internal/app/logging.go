package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/botrelay/botrelay/internal/config"
)

// NewLogger returns the logger the configuration asks for. Format "auto"
// (the default) writes text when w is a terminal, for a person reading
// along, and JSON otherwise (a pipe, a file, the journal, a container log),
// for machines; "json" and "text" force one. Every record has each key
// once (see uniqueKeys), and durations are written as milliseconds under
// their key with "_ms" added (a "drain" of 1.5 s is drain_ms=1500).
func NewLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationMillis}
	var h slog.Handler
	if c.Format == "text" || (c.Format == "auto" && IsTerminal(w)) {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(&uniqueKeys{next: h})
}

// IsTerminal reports whether w is a terminal: a character device other than
// the null device.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}

// durationMillis writes a duration attribute as a number of milliseconds
// (fractions kept) under its key with "_ms" added.
func durationMillis(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_ms") {
		key += "_ms"
	}
	return slog.Float64(key, float64(a.Value.Duration())/1e6)
}

// uniqueKeys is a slog.Handler that writes each key once per record. The
// attributes of With calls are kept here rather than handed down, so a key
// added twice — a component and the package below it both tagging bot_id —
// appears once, with the value set last: a record's own attributes win
// over With's, a later With over an earlier one. A group (WithGroup) hands
// the attributes so far down first; keys inside the group are unique
// among themselves.
type uniqueKeys struct {
	next  slog.Handler
	attrs []slog.Attr
}

func (u *uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return u.next.Enabled(ctx, l) }

func (u *uniqueKeys) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return u
	}
	return &uniqueKeys{next: u.next, attrs: append(u.attrs[:len(u.attrs):len(u.attrs)], as...)}
}

func (u *uniqueKeys) WithGroup(name string) slog.Handler {
	if name == "" {
		return u
	}
	next := u.next
	if len(u.attrs) > 0 {
		next = next.WithAttrs(lastWins(u.attrs))
	}
	return &uniqueKeys{next: next.WithGroup(name)}
}

func (u *uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	all := make([]slog.Attr, 0, len(u.attrs)+r.NumAttrs())
	all = append(all, u.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		all = append(all, a)
		return true
	})
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(lastWins(all)...)
	return u.next.Handle(ctx, out)
}

// lastWins keeps one attribute per key, the last one, at the place of the
// key's first appearance. Attributes without a key (inlined groups) stay.
func lastWins(as []slog.Attr) []slog.Attr {
	at := make(map[string]int, len(as))
	out := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if a.Key == "" {
			out = append(out, a)
			continue
		}
		if i, ok := at[a.Key]; ok {
			out[i] = a
			continue
		}
		at[a.Key] = len(out)
		out = append(out, a)
	}
	return out
}
