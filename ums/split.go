package ums

import "encoding/json"

// The hub decodes every frame a client sends. Most are plain: a JSON object
// whose members are the envelope's fields, strings without escapes. Decode
// reads those by splitting the object into its members once the frame is
// known to be valid JSON, without encoding/json's reflection and copies,
// and leaves every other frame (and every error) to the general decoder.

// Member is one member of a JSON object: its key without the quotes and its
// value's exact bytes.
type Member struct{ Key, Val []byte }

// splitObject splits raw, valid JSON, into its members, appended to out.
// ok is false when raw is not an object or a key has an escape.
func splitObject(raw []byte, out []Member) ([]Member, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	if i = skipSpace(raw, i+1); i < len(raw) && raw[i] == '}' {
		return out, true
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, false
		}
		k := i + 1
		for k < len(raw) && raw[k] != '"' {
			if raw[k] == '\\' {
				return nil, false
			}
			k++
		}
		if k >= len(raw) {
			return nil, false
		}
		key := raw[i+1 : k]
		if i = skipSpace(raw, k+1); i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipSpace(raw, i+1)
		end, ok := valueEnd(raw, i)
		if !ok {
			return nil, false
		}
		out = append(out, Member{Key: key, Val: raw[i:end]})
		if i = skipSpace(raw, end); i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return out, true
		default:
			return nil, false
		}
	}
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the end of the valid JSON value starting at raw[i].
func valueEnd(raw []byte, i int) (int, bool) {
	if i >= len(raw) {
		return 0, false
	}
	switch raw[i] {
	case '"':
		return stringEnd(raw, i)
	case '{', '[':
		depth := 0
		for i < len(raw) {
			switch raw[i] {
			case '"':
				end, ok := stringEnd(raw, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	for i < len(raw) {
		switch raw[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, true
		}
		i++
	}
	return i, true
}

// stringEnd returns the index after the string starting at raw[i].
func stringEnd(raw []byte, i int) (int, bool) {
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// plainString returns the text of a JSON string without escapes; ok is
// false for anything else.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// wireFields are the envelope's field names as the general decoder (a
// struct with these json tags) matches them.
var wireFields = [...]string{"kind", "id", "type", "body", "headers", "metadata", "encodedMetadata"}

// decodePlain reads a plain request frame (see above): trimmed is valid
// JSON. ok false means: let the general decoder read it, because the frame
// is not plain or not a valid request.
func decodePlain(trimmed []byte) (*Request, bool) {
	var buf [8]Member
	ms, ok := splitObject(trimmed, buf[:0])
	if !ok {
		return nil, false
	}
	var vals [len(wireFields)][]byte
	for _, m := range ms {
		known := false
		for f, name := range wireFields {
			if string(m.Key) == name {
				if vals[f] != nil {
					return nil, false // repeated: the general decoder keeps the last
				}
				vals[f], known = m.Val, true
				break
			}
			if equalFoldASCII(m.Key, name) {
				return nil, false // encoding/json matches keys without case
			}
		}
		if !known && !asciiOnly(m.Key) {
			return nil, false // Unicode case folding: leave it to encoding/json
		}
	}
	kind, id, typ, body, headers, metadata, encoded := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6]
	req := &Request{Kind: KindRequest}
	if k, ok := plainString(kind); !ok || k != KindRequest {
		return nil, false
	}
	if s, ok := plainString(id); ok && s != "" && len(s) <= MaxIDLength {
		req.ID = s
	} else {
		return nil, false
	}
	if t, ok := plainString(typ); ok && t != "" && len(t) <= 256 {
		req.Type = t
	} else {
		return nil, false
	}
	if !isNull(body) {
		if body[0] != '{' && body[0] != '[' {
			return nil, false
		}
		req.Body = json.RawMessage(body)
		if Canonical(req.Type) == "ms.PublishEvent" {
			if pb, ok := publishPlain(body); ok {
				req.Parsed = pb // the body is read once, here
			}
		}
	}
	if !isNull(headers) {
		if headers[0] != '[' {
			return nil, false
		}
		req.Headers = json.RawMessage(headers)
	}
	if !isNull(metadata) {
		if metadata[0] != '[' {
			return nil, false
		}
		req.Metadata = json.RawMessage(metadata)
	}
	if !isNull(encoded) {
		s, ok := plainString(encoded)
		if !ok {
			return nil, false
		}
		req.EncodedMetadata = s
	}
	return req, true
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func asciiOnly(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// SplitObject splits raw, which must be valid JSON (a frame Decode
// accepted, or part of one), into its members, appended to out. ok is
// false when raw is not an object or a key has an escape.
func SplitObject(raw []byte, out []Member) ([]Member, bool) { return splitObject(raw, out) }

// PlainString returns the text of a JSON string without escapes; ok is
// false for anything else (null included).
func PlainString(raw []byte) (string, bool) { return plainString(raw) }

// FoldsTo reports whether key equals one of names but for ASCII case, so
// that encoding/json would match it to that field. A key with a byte
// outside ASCII is reported as folding too (Unicode folding is left to
// encoding/json).
func FoldsTo(key []byte, names ...string) bool {
	if !asciiOnly(key) {
		return true
	}
	for _, n := range names {
		if equalFoldASCII(key, n) {
			return true
		}
	}
	return false
}

// publishPlain reads a PublishEvent body member by member; ok is false
// when encoding/json must read it (see decodePlain). body is valid JSON.
func publishPlain(body []byte) (*PublishEventBody, bool) {
	var buf [6]Member
	ms, ok := splitObject(body, buf[:0])
	if !ok {
		return nil, false
	}
	b := new(PublishEventBody)
	seen := 0
	for _, m := range ms {
		var dst *string
		switch string(m.Key) {
		case "dialogId":
			dst, seen = &b.DialogID, seen|1
		case "conversationId":
			dst, seen = &b.ConversationID, seen|2
		case "messageAudience":
			dst, seen = &b.MessageAudience, seen|4
		case "event":
			if seen&8 != 0 {
				return nil, false
			}
			b.Event, seen = json.RawMessage(m.Val), seen|8
			continue
		default:
			if FoldsTo(m.Key, "dialogId", "conversationId", "event", "messageAudience") {
				return nil, false
			}
			continue
		}
		if string(m.Val) == "null" {
			continue
		}
		s, ok := plainString(m.Val)
		if !ok {
			return nil, false
		}
		*dst = s
	}
	return b, true
}
