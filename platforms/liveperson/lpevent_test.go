package liveperson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// lpEventCases are message notifications as the hub sends them (through
// json.Marshal) and as other platforms may: unicode, HTML characters,
// escapes, whitespace, repeated keys, members to fill in or keep.
func lpEventCases(t testing.TB) []string {
	texts := []string{"hello", "", "Grüße, 東京 🚀", "<b>bold</b> & \"quoted\" \\ back/slash", "line\nbreak\ttab\r",
		"\u2028sep\u2029", "\x00\x1f control", "invalid \xff utf8", `{"not":"json"}`, "'single'", "€ 100 – ok"}
	var out []string
	for i, text := range texts {
		msg, _ := json.Marshal(text)
		ev := ums.MessagingEvent{Sequence: int64(i), ConversationID: "c-1", DialogID: "c-1", ServerTimestamp: 1764000000000 + int64(i),
			OriginatorID: "cons-1", OriginatorPID: "cons-1", OriginatorMetadata: ums.OriginatorMetadata{ID: "cons-1", Role: "CONSUMER"},
			Event: json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":` + string(msg) + `}`)}
		if i%3 == 1 {
			ev.Metadata = json.RawMessage(`[{"type":"ExternalId","id":"x` + fmt.Sprint(i) + `"}]`)
			ev.MessageAudience = "AGENTS_AND_MANAGERS"
		}
		if i%4 == 2 {
			ev.ConversationID = ""
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		// The same text unescaped, as a platform that does not escape
		// HTML sends it.
		out = append(out, string(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<")), []byte(`\u0026`), []byte("&"))))
	}
	return append(out,
		`{}`, `[]`, `null`, `"text"`, `{"a":1}`,
		`{"dialogId":"d-1","event":{"type":"ContentEvent","message":"hi"}}`,
		`{ "dialogId" : "d-1" , "event" : { "type" : "ContentEvent" } }`,
		`{"dialogId":"d-1","dialogId":"d-2"}`,
		`{"conversationId":null,"dialogId":"","metadata":null,"messageAudience":"","conversationContext":null}`,
		`{"conversationId":"mine","dialogId":"mine-d","metadata":[{"a":[1,2,{"b":null}]}],"messageAudience":"ALL","conversationContext":{"type":"X"}}`,
		`{"d\u0069alogId":"escaped key","zz":true,"aa":false,"mm":-1.5e+3}`,
		`{"ключ":"non-ASCII key","n":[[],{},[{}]],"s":"\"}{][,:"}`,
		`{"event":{"message":"a\u2028b"},"x":"\/"}`,
		`{"event":{"message":"a`+"\u2028"+`b"}}`,
		`{"<k>":1}`, `{"k":"<"}`, `{"k":["&"]}`,
		"{\"k\":\n1}", `{"k":1 }`, `{"k":"v"} `,
	)
}

// TestLPEventSameBytesAsEncodingJSON: the member-by-member lpEvent gives
// exactly encoding/json's bytes for every notification, in whichever path
// it takes.
func TestLPEventSameBytesAsEncodingJSON(t *testing.T) {
	a, err := New(Config{Account: "1000", Username: "bot", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.convs["c-1"] = &convState{context: json.RawMessage(`{"type":"SharkContext","lang":"en-US","visitorId":"v<1>","campaignInfo":{"campaignId":7}}`)}
	refs := []botrelay.ConversationRef{
		{ID: "c-1", DialogID: "c-1", Type: botrelay.Messaging, SkillID: 3},
		{ID: "c-1", Type: botrelay.Messaging},
		{ID: "c-2", DialogID: "d&2", SkillID: 9},
	}
	plain := 0
	for _, raw := range lpEventCases(t) {
		if !json.Valid([]byte(raw)) {
			continue // the adapter passes only what it decoded
		}
		for _, ref := range refs {
			want := a.lpEventSlow(bytes.TrimSpace([]byte(raw)), ref)
			got := a.lpEvent(json.RawMessage(raw), ref)
			if !bytes.Equal(got, want) {
				t.Errorf("lpEvent(%s, %v)\n got %s\nwant %s", raw, ref.DialogID, got, want)
			}
		}
		if _, ok := plainMembers([]byte(raw), nil); ok {
			plain++
		}
	}
	if plain < 12 {
		t.Errorf("only %d cases took the member-by-member path", plain)
	}
}

// FuzzLPEvent: for any JSON the adapter may pass, both paths agree.
func FuzzLPEvent(f *testing.F) {
	for _, c := range lpEventCases(f) {
		f.Add([]byte(c))
	}
	a, err := New(Config{Account: "1000", Username: "bot", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	ref := botrelay.ConversationRef{ID: "c-1", DialogID: "c-1", Type: botrelay.Messaging, SkillID: 3}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		want := a.lpEventSlow(bytes.TrimSpace(raw), ref)
		if got := a.lpEvent(raw, ref); !bytes.Equal(got, want) {
			t.Fatalf("lpEvent(%q)\n got %s\nwant %s", raw, got, want)
		}
	})
}
