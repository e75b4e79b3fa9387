package sqlstore

import "encoding/json"

// interner keeps one copy of the values a long listing repeats in row after
// row (an account id, states, roles, types, a common context), so that the
// hub, which holds every open conversation it lists at start for as long as
// it is open, holds each of them once rather than once a row. One is made
// per listing and dropped with it.
type interner struct {
	strs map[string]string
	raws map[string]json.RawMessage
}

// internMax bounds each of an interner's tables: past it, new values are
// kept as they are.
const internMax = 4096

func newInterner() *interner {
	return &interner{strs: map[string]string{}, raws: map[string]json.RawMessage{}}
}

func (in *interner) str(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) < internMax {
		in.strs[s] = s
	}
	return s
}

// intern returns the interned copy of s.
func intern[T ~string](in *interner, s T) T { return T(in.str(string(s))) }

// json returns a shared copy of a short JSON value equal to raw. Its
// capacity is its length, so an append to one copy never writes into
// another.
func (in *interner) json(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || len(raw) > 512 {
		return raw
	}
	if v, ok := in.raws[string(raw)]; ok {
		return v
	}
	raw = raw[:len(raw):len(raw)]
	if len(in.raws) < internMax {
		in.raws[string(raw)] = raw
	}
	return raw
}
