package ums_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/botrelay/botrelay/ums"
)

// seeds are frames real clients send (node-agent-sdk 1.2.0 and the consumer
// page) plus broken ones.
var seeds = []string{
	`{"kind":"req","id":"0b6b1f2e-6a43-4e61-9d5c-1f8f0e8a7c11","type":".ams.routing.SetAgentState","body":{"availability":"ONLINE","channels":["MESSAGING"],"agentUserId":"1000.3"}}`,
	`{"kind":"req","id":"2","type":".ams.aam.SubscribeExConversations","body":{"convState":["OPEN"],"agentIds":["1000.3"]}}`,
	`{"kind":"req","id":"3","type":".ams.ms.PublishEvent","body":{"dialogId":"d","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi"}},"metadata":[{"type":"BotResponse"}],"encodedMetadata":"e30="}`,
	`{"kind":"req","id":"4","type":".ams.cm.UpdateConversationField","body":{"conversationId":"c","conversationField":[{"field":"ParticipantsChange","type":"REMOVE","role":"ASSIGNED_AGENT"},{"field":"Skill","type":"UPDATE","skill":"2"}]}}`,
	`{"kind":"req","id":5,"type":"cm.ConsumerRequestConversation","body":{"brandId":"1000","channelType":"MESSAGING"}}`,
	`{"kind":"req","id":"6","type":".GetClock"}`,
	`{"kind":"req","id":"7","type":".ams.ms.QueryMessages","body":{"dialogId":"d","newerThanSequence":0},"headers":null}`,
	``, `null`, `[]`, `{}`, `"req"`, `{"kind":"resp","id":"1","type":"x"}`, `{"kind":"req","id":"","type":"x"}`,
	`{"kind":"req","id":{},"type":"x"}`, `{"kind":"req","id":"1","type":7}`, `{"kind":"req","id":"1","type":"x","body":"str"}`,
	`{"kind":"req","id":"1","type":"x","metadata":{}}`, "{\"kind\":\"req\",\"id\":\"1\",\"type\":\"x\"\xff}", `{"kind":"req","id":1e400,"type":"x"}`,
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		wantErr bool
		wantID  string // the id, or the ReqID of the error
	}{
		{"sdk request", seeds[0], false, "0b6b1f2e-6a43-4e61-9d5c-1f8f0e8a7c11"},
		{"numeric id", seeds[4], false, "5"},
		{"no body", seeds[5], false, "6"},
		{"null headers", seeds[6], false, "7"},
		{"empty", ``, true, ""},
		{"not an object", `[1,2]`, true, ""},
		{"not json", `{"kind":`, true, ""},
		{"response kind", `{"kind":"resp","id":"9","type":"x"}`, true, "9"},
		{"missing type", `{"kind":"req","id":"9"}`, true, "9"},
		{"body string", `{"kind":"req","id":"9","type":"x","body":"hello"}`, true, "9"},
		{"metadata object", `{"kind":"req","id":"9","type":"x","metadata":{}}`, true, "9"},
		{"encodedMetadata number", `{"kind":"req","id":"9","type":"x","encodedMetadata":1}`, true, "9"},
		{"empty id", `{"kind":"req","id":"","type":"x"}`, true, ""},
		{"long id", `{"kind":"req","id":"` + strings.Repeat("a", 200) + `","type":"x"}`, true, ""},
		{"bad utf8", "{\"kind\":\"req\",\"id\":\"1\",\"type\":\"\xff\"}", true, ""},
		{"too big", `{"kind":"req","id":"1","type":"x","body":{"a":"` + strings.Repeat("a", ums.MaxFrameSize) + `"}}`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ums.Decode([]byte(tt.frame))
			if tt.wantErr {
				var e *ums.Error
				if !errors.As(err, &e) || e.Status != 400 || e.Code != "invalid" || e.Message == "" {
					t.Fatalf("Decode error = %v, want a 400 invalid *ums.Error", err)
				}
				if e.ReqID != tt.wantID {
					t.Fatalf("error ReqID = %q, want %q", e.ReqID, tt.wantID)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if req.ID != tt.wantID || req.Kind != ums.KindRequest {
				t.Fatalf("Decode = %+v", req)
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	req, err := ums.Decode([]byte(`{"kind":"req","id":"1","type":".ams.ms.PublishEvent","body":{"dialogId":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	var body ums.PublishEventBody
	err = ums.DecodeBody(req, &body)
	var e *ums.Error
	if !errors.As(err, &e) || e.ReqID != "1" || !strings.Contains(e.Message, "dialogId") {
		t.Fatalf("DecodeBody error = %v", err)
	}
	b, _ := json.Marshal(e.Response())
	if !strings.Contains(string(b), `"code":400`) || !strings.Contains(string(b), `"error":{"code":"invalid"`) {
		t.Fatalf("error response = %s", b)
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		".ams.ms.PublishEvent": "ms.PublishEvent", "ms.PublishEvent": "ms.PublishEvent",
		".GetClock": "GetClock", "cm.ConsumerRequestConversation": "cm.ConsumerRequestConversation",
	} {
		if got := ums.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecode checks that Decode never panics, that every failure is a 400
// *ums.Error, and that whatever it accepts re-encodes and decodes to the
// same request.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ums.Decode(data)
		if err != nil {
			var e *ums.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Fatalf("Decode(%q) error %v is not a 400 *ums.Error", data, err)
			}
			if _, err := json.Marshal(e.Response()); err != nil {
				t.Fatalf("error response does not encode: %v", err)
			}
			return
		}
		if req.Kind != ums.KindRequest || req.ID == "" || req.Type == "" {
			t.Fatalf("Decode(%q) accepted %+v", data, req)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", req, err)
		}
		req2, err := ums.Decode(again)
		if err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		if req2.ID != req.ID || req2.Type != req.Type || !sameJSON(req2.Body, req.Body) {
			t.Fatalf("round trip changed %+v into %+v", req, req2)
		}
	})
}

// sameJSON reports whether two bodies hold the same JSON value: encoding
// may legitimately change bytes (json.Marshal escapes & < > as \u0026 …).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if len(bytes.TrimSpace(a)) == 0 || len(bytes.TrimSpace(b)) == 0 {
		return len(bytes.TrimSpace(a)) == len(bytes.TrimSpace(b))
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return compact(a) == compact(b)
	}
	return reflect.DeepEqual(x, y)
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid: " + err.Error()
	}
	return b.String()
}
