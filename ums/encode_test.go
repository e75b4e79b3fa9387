package ums_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/botrelay/botrelay/ums"
)

// encodeStrings are strings as they reach the hot frames: ids, names and
// texts with unicode, HTML characters, escapes, control characters,
// invalid UTF-8 and the line separators JSON escapes.
var encodeStrings = []string{"", "5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11", "1000.12", "Support bot", "Grüße 東京 🚀",
	"<b>Tom & Jerry</b>", "Tom & Jerry", "a > b", `quote " back \ slash /`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "bad \xff\xfe utf8",
	"sep\u2028par\u2029", "€", "ASSIGNED_AGENT", "e30="}

// encodeRaws are events and metadata: compact, spaced, with HTML
// characters (raw and escaped), unicode and escapes.
var encodeRaws = []string{"", `{"type":"ContentEvent","contentType":"text/plain","message":"hi"}`,
	`{ "type" : "ContentEvent", "message" : "spaced  text" }`, "{\n\t\"a\": [1, 2,\r\n3]\n}",
	`{"type":"ContentEvent","message":"<b>&</b>"}`, `{"message":"\u003cb\u003e \u0026 \"q\" \\ \/"}`,
	`{"message":"Grüße 🚀 ` + "\u2028" + `"}`, `[{"type":"ExternalId","id":"botrelay:s7:0"}]`, `[]`, `{}`, `null`, `"str"`, `-1.5e+3`,
	`{"type":"RichContentEvent","content":{"type":"vertical","elements":[{"type":"text","text":"a b"}]}}`}

// TestEncodeHotFramesLikeEncodingJSON: the directly written frames are
// byte for byte json.Marshal's, for every combination of the strings and
// raw values above in every field.
func TestEncodeHotFramesLikeEncodingJSON(t *testing.T) {
	if n := reflect.TypeFor[ums.MessagingEvent]().NumField(); n != 11 {
		t.Fatalf("MessagingEvent has %d fields; teach appendMessagingEvent the new ones and this test", n)
	}
	if n := reflect.TypeFor[ums.OriginatorMetadata]().NumField(); n != 4 {
		t.Fatalf("OriginatorMetadata has %d fields; teach appendMessagingEvent the new ones and this test", n)
	}
	n := 0
	for i, s := range encodeStrings {
		for j, raw := range encodeRaws {
			pick := func(k int) string { return encodeStrings[(i+j+k)%len(encodeStrings)] }
			ev := ums.MessagingEvent{Sequence: int64(i*100 + j), ConversationID: s, DialogID: pick(1), ServerTimestamp: 1764000000000 + int64(j),
				OriginatorID: pick(2), OriginatorPID: pick(3),
				OriginatorMetadata: ums.OriginatorMetadata{ID: pick(4), Role: pick(5), Name: pick(6), UserType: pick(7)},
				Event:              json.RawMessage(raw), MessageAudience: pick(8), Metadata: json.RawMessage(encodeRaws[(i+j)%len(encodeRaws)]),
				EncodedMetadata: pick(9)}
			if j%5 == 0 {
				ev.Sequence = -ev.Sequence
			}
			compare(t, "agent", ev, func() ([]byte, error) { return ums.EncodeAgentEvent(&ev) },
				ums.NewNotification(ums.NotifyOnlineEventDistribution, ev))
			compare(t, "consumer", ev, func() ([]byte, error) { return ums.EncodeConsumerEvent(&ev) },
				ums.NewNotification(ums.NotifyMessagingEvent, ums.MessagingEventBody{Changes: []ums.MessagingEvent{ev}}))
			req := &ums.Request{Kind: ums.KindRequest, ID: s, Type: pick(1)}
			if req.ID == "" {
				req.ID = "1"
			}
			compare(t, "response", ev, func() ([]byte, error) { return ums.EncodeSequence(req, ev.Sequence), nil },
				ums.OK(req, map[string]int64{"sequence": ev.Sequence}))
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d events compared", n)
	}
}

func compare(t *testing.T, what string, ev ums.MessagingEvent, direct func() ([]byte, error), v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := direct()
	if (werr != nil) != (gerr != nil) || string(got) != string(want) {
		t.Fatalf("%s frame of %+v:\n direct        %s (%v)\n encoding/json %s (%v)", what, ev, got, gerr, want, werr)
	}
}

// FuzzEncodeAgentEvent: for any strings and any valid raw event, the
// direct frame is json.Marshal's.
func FuzzEncodeAgentEvent(f *testing.F) {
	for i, s := range encodeStrings {
		f.Add(s, encodeStrings[(i+3)%len(encodeStrings)], []byte(encodeRaws[i%len(encodeRaws)]), int64(i))
	}
	f.Fuzz(func(t *testing.T, s1, s2 string, raw []byte, seq int64) {
		if len(raw) > 0 && !json.Valid(raw) {
			return // the hub stores only valid events
		}
		ev := ums.MessagingEvent{Sequence: seq, ConversationID: s1, DialogID: s2, OriginatorID: s1 + s2, OriginatorPID: s2,
			OriginatorMetadata: ums.OriginatorMetadata{ID: s2, Role: s1, Name: s1}, Event: raw, MessageAudience: s2, Metadata: raw, EncodedMetadata: s1}
		compare(t, "agent", ev, func() ([]byte, error) { return ums.EncodeAgentEvent(&ev) },
			ums.NewNotification(ums.NotifyOnlineEventDistribution, ev))
		compare(t, "consumer", ev, func() ([]byte, error) { return ums.EncodeConsumerEvent(&ev) },
			ums.NewNotification(ums.NotifyMessagingEvent, ums.MessagingEventBody{Changes: []ums.MessagingEvent{ev}}))
	})
}
