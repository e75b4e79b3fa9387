// Package ums holds the frame format of the LivePerson-compatible messaging
// protocol (UMS): the JSON envelope of requests, responses and
// notifications, the decoder the hub runs on every frame a client sends, and
// the error body both sides of the protocol use. docs/protocol.md describes
// the protocol as botrelay implements it.
//
// The package imports only the standard library; the hub and any client
// (the liveperson platform adapter, tests) can share it.
package ums

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/botrelay/botrelay/internal/jsonvalid"
)

// Frame kinds.
const (
	KindRequest      = "req"
	KindResponse     = "resp"
	KindNotification = "notification"
)

// MaxFrameSize is the largest frame the hub reads; a larger one closes the
// websocket with 1009 (message too big).
const MaxFrameSize = 1 << 20

// MaxIDLength bounds a request id.
const MaxIDLength = 128

// Request is a request frame as a client sends it:
//
//	{"kind":"req","id":"1","type":".ams.ms.PublishEvent","body":{...},
//	 "headers":[...],"metadata":[...],"encodedMetadata":"..."}
//
// Body, Headers and Metadata stay raw JSON; the handler of each type decodes
// its body.
type Request struct {
	Kind            string          `json:"kind"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Body            json.RawMessage `json:"body,omitempty"`
	Headers         json.RawMessage `json:"headers,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	EncodedMetadata string          `json:"encodedMetadata,omitempty"`

	// Parsed, when set, is Body already decoded by whoever read it first
	// (the hub decodes a publish's body once to find its conversation and
	// hands it on to the handler). Decode leaves it nil.
	Parsed any `json:"-"`
}

// Response answers one request. Code is an HTTP status: 200 for success, a
// 4xx for a client error, 500 for a server failure. Type, when set, is the
// request's type followed by "$Response", which node-agent-sdk uses to
// transform some answers.
type Response struct {
	Kind  string `json:"kind"`
	ReqID string `json:"reqId"`
	Code  int    `json:"code"`
	Type  string `json:"type,omitempty"`
	Body  any    `json:"body"`
}

// Notification is a frame the server pushes without a request.
type Notification struct {
	Kind string `json:"kind"`
	Type string `json:"type"`
	Body any    `json:"body"`
}

// NewNotification returns a notification frame of the type.
func NewNotification(typ string, body any) *Notification {
	return &Notification{Kind: KindNotification, Type: typ, Body: body}
}

// ErrorBody is the body of every error response, on the agent and the
// consumer side alike:
//
//	{"error":{"code":"invalid","message":"..."}}
//
// Code is one of botrelay's error codes (invalid, not_found, forbidden,
// conflict, unauthorized, not_supported, internal, unavailable).
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is a protocol error: the response code, the error body's code and a
// message safe to show the client. ReqID is the id of the request it
// answers, when the decoder could read one.
type Error struct {
	Status  int
	Code    string
	Message string
	ReqID   string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Response returns the error response frame for e.
func (e *Error) Response() *Response {
	return &Response{Kind: KindResponse, ReqID: e.ReqID, Code: e.Status,
		Body: ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message}}}
}

// Errorf returns an *Error with the status, code and formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// OK returns a successful response to req with body (nil becomes {}).
func OK(req *Request, body any) *Response {
	if body == nil {
		body = struct{}{}
	}
	return &Response{Kind: KindResponse, ReqID: req.ID, Code: http.StatusOK, Type: req.Type + "$Response", Body: body}
}

// wire is the decoding shape: every field raw so types can be checked one
// by one and errors can name the field.
type wire struct {
	Kind            json.RawMessage `json:"kind"`
	ID              json.RawMessage `json:"id"`
	Type            json.RawMessage `json:"type"`
	Body            json.RawMessage `json:"body"`
	Headers         json.RawMessage `json:"headers"`
	Metadata        json.RawMessage `json:"metadata"`
	EncodedMetadata json.RawMessage `json:"encodedMetadata"`
}

// Decode parses one frame a client sent. It accepts only request frames:
// a JSON object with kind "req", an id (a string, or a number which is kept
// as its decimal text) of 1 to MaxIDLength bytes, a non-empty type, a body
// that is an object, an array or absent, headers and metadata that are
// arrays or absent, and an encodedMetadata string. Unknown fields are
// ignored. Every failure is an *Error with status 400 and code "invalid";
// its ReqID is set whenever the id could be read, so the client can match
// the error to its request. Decode never panics on any input. The request's
// Body, Headers and Metadata may share data's memory: data must not change
// while the request is in use.
func Decode(data []byte) (*Request, error) {
	bad := func(id, format string, args ...any) error {
		e := Errorf(http.StatusBadRequest, "invalid", format, args...)
		e.ReqID = id
		return e
	}
	if len(data) > MaxFrameSize {
		return nil, bad("", "frame is larger than %d bytes", MaxFrameSize)
	}
	if !utf8.Valid(data) {
		return nil, bad("", "frame is not UTF-8 text")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, bad("", "frame must be a JSON object")
	}
	if jsonvalid.Valid(trimmed) {
		if req, ok := decodePlain(trimmed); ok {
			return req, nil
		}
	}
	return decodeGeneral(trimmed)
}

// decodeGeneral is Decode through encoding/json, for any frame; trimmed is
// UTF-8 text starting with '{'.
func decodeGeneral(trimmed []byte) (*Request, error) {
	bad := func(id, format string, args ...any) error {
		e := Errorf(http.StatusBadRequest, "invalid", format, args...)
		e.ReqID = id
		return e
	}
	var w wire
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return nil, bad("", "frame is not valid JSON")
	}
	id, ok := decodeID(w.ID)
	if !ok {
		return nil, bad("", "id must be a string or a number of 1 to %d characters", MaxIDLength)
	}
	var req Request
	req.ID = id
	if !decodeString(w.Kind, &req.Kind) || req.Kind != KindRequest {
		return nil, bad(id, "kind must be %q", KindRequest)
	}
	if !decodeString(w.Type, &req.Type) || req.Type == "" || len(req.Type) > 256 {
		return nil, bad(id, "type must be a non-empty string")
	}
	if !isNull(w.Body) {
		if c := firstByte(w.Body); c != '{' && c != '[' {
			return nil, bad(id, "body must be a JSON object")
		}
		req.Body = w.Body
	}
	if !isNull(w.Headers) {
		if firstByte(w.Headers) != '[' {
			return nil, bad(id, "headers must be an array")
		}
		req.Headers = w.Headers
	}
	if !isNull(w.Metadata) {
		if firstByte(w.Metadata) != '[' {
			return nil, bad(id, "metadata must be an array")
		}
		req.Metadata = w.Metadata
	}
	if !isNull(w.EncodedMetadata) && !decodeString(w.EncodedMetadata, &req.EncodedMetadata) {
		return nil, bad(id, "encodedMetadata must be a string")
	}
	return &req, nil
}

// DecodeBody decodes a request body into v (a pointer to a struct). An
// absent body decodes as {}. Errors are *Error 400 "invalid" naming the
// request type.
func DecodeBody(req *Request, v any) error {
	body := req.Body
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		e := Errorf(http.StatusBadRequest, "invalid", "body of %s is malformed: %s", req.Type, describeJSONError(err))
		e.ReqID = req.ID
		return e
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("field %s must be %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	return "not the expected JSON"
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	}
	return "of another type"
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func decodeString(raw json.RawMessage, dst *string) bool {
	if firstByte(raw) != '"' {
		return false
	}
	return json.Unmarshal(raw, dst) == nil
}

func decodeID(raw json.RawMessage) (string, bool) {
	var s string
	switch c := firstByte(raw); {
	case c == '"':
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		if _, err := strconv.ParseFloat(n.String(), 64); err != nil {
			return "", false
		}
		s = n.String()
	default:
		return "", false
	}
	if s == "" || len(s) > MaxIDLength || strings.ContainsAny(s, "\x00") {
		return "", false
	}
	return s, true
}
