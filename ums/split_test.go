package ums

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// plainCases are request frames for the member-by-member decoder: plain
// ones, and ones it must leave to encoding/json (case variants of the field
// names, repeated fields, escapes, numbers, whitespace, odd types).
var plainCases = []string{
	`{"kind":"req","id":"42","type":"ms.PublishEvent","body":{"dialogId":"d","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi <b>&amp;</b> \"q\" \\ \u00e9 Grüße 🚀"}}}`,
	`{"kind":"req","id":"3","type":".ams.ms.PublishEvent","body":{"dialogId":"d"},"metadata":[{"type":"BotResponse"}],"encodedMetadata":"e30="}`,
	`{"kind":"req","id":"6","type":".GetClock"}`,
	`{"kind":"req","id":"7","type":"x","body":null,"headers":null,"metadata":null,"encodedMetadata":null}`,
	`{"kind":"req","id":"7","type":"x","body":[1,{"a":"}"}],"headers":[],"metadata":[]}`,
	` { "kind" : "req" , "id" : "8" , "type" : "x" , "body" : { "a" : [ 1 , 2 ] } } `,
	"{\"kind\":\"req\",\n\t\"id\":\"8\",\r\n\"type\":\"x\"}",
	`{"type":"x","id":"9","kind":"req","extra":{"kind":"resp"},"n":-1.5e3,"t":true,"f":false,"z":null}`,
	`{"kind":"req","id":"1","type":"x","Kind":"resp"}`, `{"KIND":"req","id":"1","type":"x"}`, `{"kind":"req","ID":"1","type":"x"}`,
	`{"kind":"req","id":"1","type":"x","Body":{"a":1}}`, `{"kind":"req","id":"1","type":"x","encodedmetadata":"e30="}`,
	`{"kind":"req","id":"1","type":"x","headerſ":[1]}`, `{"kind":"req","id":"1","type":"x","ſ":[1]}`, `{"ＫＩＮＤ":"resp","kind":"req","id":"1","type":"x"}`,
	`{"kind":"req","id":"1","id":"2","type":"x"}`, `{"kind":"req","id":"1","type":"x","type":"y"}`,
	`{"kind":"req","id":"a\"b","type":"x"}`, `{"kind":"req","id":"1","type":"\u0078"}`, `{"kind":"r\u0065q","id":"1","type":"x"}`,
	`{"k\u0069nd":"req","id":"1","type":"x"}`, `{"kind":"req","id":"1","type":"x","encodedMetadata":"a\/b"}`,
	`{"kind":"req","id":5,"type":"x"}`, `{"kind":"req","id":-5.25,"type":"x"}`, `{"kind":"req","id":1e400,"type":"x"}`,
	`{"kind":"req","id":"","type":"x"}`, `{"kind":"req","id":"1","type":""}`, `{"kind":"req","id":"1","type":"x","body":"s"}`,
	`{"kind":"req","id":"1","type":"x","body":7}`, `{"kind":"req","id":"1","type":"x","headers":{}}`, `{"kind":"req","id":"1","type":"x","metadata":"m"}`,
	`{"kind":"req","id":"1","type":"x","encodedMetadata":5}`, `{"kind":"req","id":null,"type":"x"}`, `{"kind":null,"id":"1","type":"x"}`,
	`{"kind":"req","id":"` + string(bytes.Repeat([]byte("i"), MaxIDLength+1)) + `","type":"x"}`,
	`{"kind":"req","id":"1","type":"` + string(bytes.Repeat([]byte("t"), 257)) + `"}`,
	`{}`, `{"kind":"req"}`, `{"id":"1","type":"x"}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"d","conversationId":"c","messageAudience":"ALL","event":{"type":"ContentEvent","message":"<&>"}}}`,
	`{"kind":"req","id":"1","type":".ams.ms.PublishEvent","body":{"dialogId":null,"conversationId":null,"messageAudience":null,"event":null}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"a","dialogId":"b","event":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"a","dialogId":null,"event":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"d","event":{"a":1},"event":{"b":2}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"DialogId":"d","event":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"d","EVENT":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"d\u0041","event":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":5,"event":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"d","event":"text","extra":[1,{"dialogId":"x"}]}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"d","dialogİd":"x","event":{}}}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{ "dialogId" : "d" , "event" : { "type" : "ContentEvent" } }}`,
	`{"kind":"req","id":"1","type":"ms.PublishEvent","body":[]}`, `{"kind":"req","id":"1","type":"ms.PublishEvent","body":{}}`,
}

// TestDecodePlainAgreesWithEncodingJSON: whatever the member-by-member
// decoder reads, encoding/json reads the same way; and it reads the plain
// frames clients send.
func TestDecodePlainAgreesWithEncodingJSON(t *testing.T) {
	plain := 0
	parsed = 0
	for _, c := range plainCases {
		if checkPlain(t, []byte(c)) {
			plain++
		}
	}
	if plain < 8 || parsed < 6 {
		t.Errorf("only %d frames were read member by member, %d publish bodies", plain, parsed)
	}
}

var parsed int // publish bodies checkPlain saw read member by member

func checkPlain(t *testing.T, frame []byte) bool {
	t.Helper()
	trimmed := bytes.TrimSpace(frame)
	got, ok := decodePlain(trimmed)
	if !ok {
		return false
	}
	want, err := decodeGeneral(trimmed)
	if err != nil {
		t.Fatalf("%s: read member by member as %+v, but encoding/json says %v", frame, got, err)
	}
	if got.Parsed != nil {
		var pb PublishEventBody
		if err := json.Unmarshal(got.Body, &pb); err != nil || !reflect.DeepEqual(got.Parsed, &pb) {
			t.Fatalf("%s: body read member by member as %+v, encoding/json reads %+v (%v)", frame, got.Parsed, pb, err)
		}
		parsed++
		cp := *got
		cp.Parsed = nil
		got = &cp
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n member by member %+v\n encoding/json    %+v", frame, got, want)
	}
	return true
}

func FuzzDecodePlain(f *testing.F) {
	for _, c := range plainCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxFrameSize || len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' || !validJSON(data) {
			return
		}
		checkPlain(t, data)
	})
}

func validJSON(b []byte) bool { return utf8.Valid(b) && json.Valid(b) }
