// Package jsonobj reads the JSON objects of vendor replies member by member,
// with errors that name the member's path ("response[2].data.seconds") and
// carry the calling connector's error code. Connectors that parse the
// reference product's payload conventions (Custom Endpoint items, Lex custom
// payloads) share it.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
)

// DecodeStrict decodes the settings object raw into v, refusing unknown
// members, as a botrelay EINVALID error that starts with what.
func DecodeStrict(raw json.RawMessage, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return botrelay.Errorf(botrelay.EINVALID, "%s: %v", what, err)
	}
	return nil
}

// Errorf makes a connector's error for a malformed member.
type Errorf func(format string, args ...any) error

// Obj is a decoded JSON object. Where is its path, for messages.
type Obj struct {
	Where string
	M     map[string]json.RawMessage
	errf  Errorf
}

// Decode reads raw as an object at path where; an absent value (missing or
// null) is an error only when required.
func Decode(errf Errorf, where string, raw json.RawMessage, required bool) (Obj, error) {
	o := Obj{Where: where, M: map[string]json.RawMessage{}, errf: errf}
	if Absent(raw) {
		if required {
			return o, errf("%s is required", where)
		}
		return o, nil
	}
	if err := json.Unmarshal(raw, &o.M); err != nil || o.M == nil {
		return o, errf("%s must be a JSON object", where)
	}
	return o, nil
}

// Absent reports whether raw is missing or null.
func Absent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

// Has reports whether the member is present and not null.
func (o Obj) Has(name string) bool { return !Absent(o.M[name]) }

// Str reads an optional string member; ok tells whether it was present.
func (o Obj) Str(name string) (s string, ok bool, err error) {
	raw := o.M[name]
	if Absent(raw) {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, o.errf("%s.%s must be a string", o.Where, name)
	}
	return s, true, nil
}

// Bool reads an optional boolean member.
func (o Obj) Bool(name string, def bool) (bool, error) {
	raw := o.M[name]
	if Absent(raw) {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, o.errf("%s.%s must be true or false", o.Where, name)
	}
	return v, nil
}

// RawObject reads an optional member that must be an object, returned raw.
func (o Obj) RawObject(name string) (json.RawMessage, error) {
	raw := o.M[name]
	if Absent(raw) {
		return nil, nil
	}
	if t := bytes.TrimSpace(raw); t[0] != '{' {
		return nil, o.errf("%s.%s must be a JSON object", o.Where, name)
	}
	return raw, nil
}

// Object reads an optional member that must be an object, decoded; ok
// tells whether it was present.
func (o Obj) Object(name string) (sub Obj, ok bool, err error) {
	sub, err = Decode(o.errf, o.Where+"."+name, o.M[name], false)
	return sub, err == nil && o.Has(name), err
}

// Metadata reads the metadata member: an array of objects, or one object
// that becomes a one-element array (F23). An empty array is none.
func (o Obj) Metadata() (json.RawMessage, error) {
	raw := o.M["metadata"]
	if Absent(raw) {
		return nil, nil
	}
	t := bytes.TrimSpace(raw)
	switch t[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, o.errf("%s.metadata must be an array of objects", o.Where)
		}
		for _, it := range items {
			if s := bytes.TrimSpace(it); len(s) == 0 || s[0] != '{' {
				return nil, o.errf("%s.metadata must be an array of objects", o.Where)
			}
		}
		if len(items) == 0 {
			return nil, nil
		}
		return t, nil
	case '{':
		return json.RawMessage("[" + string(t) + "]"), nil
	}
	return nil, o.errf("%s.metadata must be an object or an array of objects", o.Where)
}

// ID reads an id given as a string or a number; "" when absent.
func (o Obj) ID(name string) (string, error) {
	raw := o.M[name]
	if Absent(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", o.errf("%s.%s must be a string or a number", o.Where, name)
}

// TTRSeconds reads CHANGE_TTR CUSTOM's value: whole seconds, as a number or
// a string holding one.
func (o Obj) TTRSeconds() (int, error) {
	raw := o.M["value"]
	if Absent(raw) {
		return 0, o.errf("%s.value (seconds) is required with ttrType CUSTOM", o.Where)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, o.errf("%s.value must be a number of seconds", o.Where)
		}
		s = n.String()
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, o.errf("%s.value %q must be a whole number of seconds", o.Where, s)
	}
	return int(f), nil
}

// ChangeTTR reads a CHANGE_TTR action's parameters: ttrType URGENT, NORMAL,
// PRIORITIZED, or CUSTOM with its seconds.
func (o Obj) ChangeTTR() (*botrelay.Action, error) {
	ttr, _, err := o.Str("ttrType")
	if err != nil {
		return nil, err
	}
	a := &botrelay.Action{Kind: botrelay.ActionChangeTTR, TTR: ttr}
	switch ttr {
	case "URGENT", "NORMAL", "PRIORITIZED":
	case "CUSTOM":
		if a.TTRSeconds, err = o.TTRSeconds(); err != nil {
			return nil, err
		}
	default:
		return nil, o.errf("%s.ttrType %q is not URGENT, NORMAL, PRIORITIZED or CUSTOM", o.Where, ttr)
	}
	return a, nil
}

// InvokeFunction reads an invocation action's parameters: lambdaUuid
// (required; missing is the end of the error when it is not there),
// failOnError and payload.
func (o Obj) InvokeFunction(missing string) (*botrelay.Action, error) {
	id, _, err := o.Str("lambdaUuid")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(id) == "" {
		return nil, o.errf("%s.lambdaUuid %s", o.Where, missing)
	}
	fail, err := o.Bool("failOnError", false)
	if err != nil {
		return nil, err
	}
	var payload json.RawMessage
	if o.Has("payload") {
		payload = o.M["payload"]
	}
	return &botrelay.Action{Kind: botrelay.ActionInvokeFunction, FunctionID: id, Payload: payload, FailOnError: fail}, nil
}
