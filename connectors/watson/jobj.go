package watson

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// jobj is a decoded JSON object.
type jobj map[string]json.RawMessage

func absent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

// asObject decodes raw as an object; ok is false for anything else.
func asObject(raw json.RawMessage) (jobj, bool) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || s[0] != '{' {
		return nil, false
	}
	var o jobj
	if json.Unmarshal(s, &o) != nil || o == nil {
		return nil, false
	}
	return o, true
}

func (o jobj) has(k string) bool { return !absent(o[k]) }

// str reads an optional string member; ok is false when absent, err set
// when it is not a string.
func (o jobj) str(k string) (s string, ok bool, isStr bool) {
	if !o.has(k) {
		return "", false, true
	}
	if json.Unmarshal(o[k], &s) != nil {
		return "", true, false
	}
	return s, true, true
}

// text reads an optional string member or fails with code.
func (o jobj) text(k, where, code string) (string, error) {
	s, _, isStr := o.str(k)
	if !isStr {
		return "", parseErr(code, "%s.%s must be a string", where, k)
	}
	return s, nil
}

// boolean reads an optional boolean ("true"/"false" strings accepted).
func (o jobj) boolean(k, where string, def bool) (bool, error) {
	if !o.has(k) {
		return def, nil
	}
	var b bool
	if json.Unmarshal(o[k], &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(o[k], &s) == nil {
		if v, err := strconv.ParseBool(s); err == nil {
			return v, nil
		}
	}
	return false, parseErr(CodeParseMessageFailed, "%s.%s must be true or false", where, k)
}

// metadata reads metadata: an array of objects, or one object that
// becomes a one-element array (F23).
func (o jobj) metadata(where string) (json.RawMessage, error) {
	if !o.has("metadata") {
		return nil, nil
	}
	t := bytes.TrimSpace(o["metadata"])
	switch t[0] {
	case '{':
		return json.RawMessage("[" + string(t) + "]"), nil
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(t, &items) == nil {
			good := true
			for _, it := range items {
				if _, isObj := asObject(it); !isObj {
					good = false
				}
			}
			if good {
				if len(items) == 0 {
					return nil, nil
				}
				return t, nil
			}
		}
	}
	return nil, parseErr(CodeParseMessageFailed, "%s.metadata must be an object or an array of objects", where)
}
