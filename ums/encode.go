package ums

import (
	"encoding/json"
	"strconv"
)

// The frames every message causes — its notification to the conversation's
// agents and consumer, and the answer to its publish — are written here
// directly, in exactly the bytes json.Marshal gives for the same values
// (encode_test.go compares them), without its reflection. Values it cannot
// write plainly (a string with characters JSON escapes, an event with
// whitespace) go through encoding/json piece by piece.

// EncodeAgentEvent is the OnlineEventDistribution notification of ev:
// json.Marshal(NewNotification(NotifyOnlineEventDistribution, *ev)).
func EncodeAgentEvent(ev *MessagingEvent) ([]byte, error) {
	b := make([]byte, 0, sizeHint(ev))
	b = append(b, `{"kind":"notification","type":"`+NotifyOnlineEventDistribution+`","body":`...)
	b, err := appendMessagingEvent(b, ev)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// EncodeConsumerEvent is the MessagingEventNotification of one event:
// json.Marshal(NewNotification(NotifyMessagingEvent,
// MessagingEventBody{Changes: []MessagingEvent{*ev}})).
func EncodeConsumerEvent(ev *MessagingEvent) ([]byte, error) {
	b := make([]byte, 0, sizeHint(ev))
	b = append(b, `{"kind":"notification","type":"`+NotifyMessagingEvent+`","body":{"changes":[`...)
	b, err := appendMessagingEvent(b, ev)
	if err != nil {
		return nil, err
	}
	return append(b, "]}}"...), nil
}

// EncodeSequence is the answer to a publish: json.Marshal(OK(req,
// map[string]int64{"sequence": seq})).
func EncodeSequence(req *Request, seq int64) []byte {
	b := make([]byte, 0, 96+len(req.ID)+len(req.Type))
	b = append(b, `{"kind":"resp","reqId":`...)
	b = appendString(b, req.ID)
	b = append(b, `,"code":200,"type":`...)
	if plainText(req.Type) {
		b = append(b, '"')
		b = append(b, req.Type...)
		b = append(b, `$Response"`...)
	} else {
		b = appendString(b, req.Type+"$Response")
	}
	b = append(b, `,"body":{"sequence":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, "}}"...)
}

// sizeHint is about the size of a frame of ev, so that it is written into
// one allocation.
func sizeHint(ev *MessagingEvent) int {
	om := &ev.OriginatorMetadata
	return 320 + len(ev.ConversationID) + len(ev.DialogID) + len(ev.OriginatorID) + len(ev.OriginatorPID) + len(om.ID) + len(om.Role) +
		len(om.Name) + len(om.UserType) + len(ev.Event) + len(ev.MessageAudience) + len(ev.Metadata) + len(ev.EncodedMetadata)
}

func appendMessagingEvent(b []byte, ev *MessagingEvent) ([]byte, error) {
	var err error
	b = append(b, `{"sequence":`...)
	b = strconv.AppendInt(b, ev.Sequence, 10)
	b = append(b, `,"conversationId":`...)
	b = appendString(b, ev.ConversationID)
	b = append(b, `,"dialogId":`...)
	b = appendString(b, ev.DialogID)
	b = append(b, `,"serverTimestamp":`...)
	b = strconv.AppendInt(b, ev.ServerTimestamp, 10)
	b = append(b, `,"originatorId":`...)
	b = appendString(b, ev.OriginatorID)
	if ev.OriginatorPID != "" {
		b = append(b, `,"originatorPId":`...)
		b = appendString(b, ev.OriginatorPID)
	}
	om := &ev.OriginatorMetadata
	b = append(b, `,"originatorMetadata":{"id":`...)
	b = appendString(b, om.ID)
	b = append(b, `,"role":`...)
	b = appendString(b, om.Role)
	if om.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, om.Name)
	}
	if om.UserType != "" {
		b = append(b, `,"userType":`...)
		b = appendString(b, om.UserType)
	}
	b = append(b, `},"event":`...)
	if b, err = appendRaw(b, ev.Event); err != nil {
		return nil, err
	}
	if ev.MessageAudience != "" {
		b = append(b, `,"messageAudience":`...)
		b = appendString(b, ev.MessageAudience)
	}
	if len(ev.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		if b, err = appendRaw(b, ev.Metadata); err != nil {
			return nil, err
		}
	}
	if ev.EncodedMetadata != "" {
		b = append(b, `,"encodedMetadata":`...)
		b = appendString(b, ev.EncodedMetadata)
	}
	return append(b, '}'), nil
}

// appendString appends s as json.Marshal writes it.
func appendString(b []byte, s string) []byte {
	if !plainText(s) {
		q, _ := json.Marshal(s) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainText reports whether json.Marshal writes s as it is between quotes:
// printable ASCII without ", \, <, > or &.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendRaw appends a raw JSON value as json.Marshal writes a
// json.RawMessage: compact, with <, >, &, U+2028 and U+2029 escaped; null
// when nil. raw is valid JSON (the hub checked it when it was published).
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	if len(raw) > 0 && plainRaw(raw) {
		return append(b, raw...), nil
	}
	q, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return append(b, q...), nil
}

// plainRaw reports whether raw has nothing json.Marshal would change: no
// whitespace outside strings, no <, > or &, no U+2028 or U+2029.
func plainRaw(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '<', '>', '&':
			return false
		case 0xE2:
			if i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9) {
				return false
			}
		case ' ', '\t', '\n', '\r':
			if !inString {
				return false
			}
		case '\\':
			if inString {
				i++
			}
		case '"':
			inString = !inString
		}
	}
	return !inString
}

// AppendString appends s as json.Marshal writes a string (with <, > and &
// escaped).
func AppendString(b []byte, s string) []byte { return appendString(b, s) }

// AppendRaw appends valid JSON as json.Marshal writes a json.RawMessage:
// compact, with <, > and & escaped; null when nil.
func AppendRaw(b []byte, raw json.RawMessage) ([]byte, error) { return appendRaw(b, raw) }
