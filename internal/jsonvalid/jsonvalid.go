// Package jsonvalid reports whether bytes are one JSON value, exactly as
// encoding/json.Valid does, several times faster: the hot paths check every
// frame and event they take on trust from a parser of their own (the hub's
// and the adapter's one-pass decoders, the store's append), and
// encoding/json's validator, a state machine called byte by byte, was about
// 4 % of the server's CPU at saturation. The fuzz test holds it to
// encoding/json.Valid's answer.
package jsonvalid

// maxDepth is encoding/json's nesting limit: more objects and arrays open
// at once is invalid there.
const maxDepth = 10000

// Valid reports whether data is one JSON value with only whitespace around
// it, as encoding/json.Valid does (invalid UTF-8 in strings is accepted
// there too).
func Valid(data []byte) bool {
	i := skipSpace(data, 0)
	i, ok := value(data, i, 0)
	return ok && skipSpace(data, i) == len(data)
}

func skipSpace(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value reads the value at d[i:] (no leading space), at the given depth;
// it returns the index after it.
func value(d []byte, i, depth int) (int, bool) {
	if i >= len(d) {
		return i, false
	}
	switch c := d[i]; {
	case c == '"':
		return str(d, i+1)
	case c == '{':
		return object(d, i+1, depth+1)
	case c == '[':
		return array(d, i+1, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return number(d, i)
	case c == 't':
		return literal(d, i, "true")
	case c == 'f':
		return literal(d, i, "false")
	case c == 'n':
		return literal(d, i, "null")
	}
	return i, false
}

func literal(d []byte, i int, lit string) (int, bool) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// str reads a string's rest, after its opening quote.
func str(d []byte, i int) (int, bool) {
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(d) {
				return i, false
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(d)-i < 5 {
					return i, false
				}
				for _, h := range d[i+1 : i+5] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 5
			default:
				return i, false
			}
		default:
			i++
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func number(d []byte, i int) (int, bool) {
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return i, false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// object reads an object's rest, after its opening brace.
func object(d []byte, i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = skipSpace(d, i)
	if i < len(d) && d[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, false
		}
		var ok bool
		if i, ok = str(d, i+1); !ok {
			return i, false
		}
		i = skipSpace(d, i)
		if i >= len(d) || d[i] != ':' {
			return i, false
		}
		if i, ok = value(d, skipSpace(d, i+1), depth); !ok {
			return i, false
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipSpace(d, i+1)
		default:
			return i, false
		}
	}
}

// array reads an array's rest, after its opening bracket.
func array(d []byte, i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = skipSpace(d, i)
	if i < len(d) && d[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = value(d, i, depth); !ok {
			return i, false
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return i, false
		}
		switch d[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipSpace(d, i+1)
		default:
			return i, false
		}
	}
}
