package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestLiveMessageSameEventsAsGeneralPath: a message notification decoded in
// one pass gives the relay exactly the events the general path (frame, then
// body, then event) gives, for consumer messages of every kind, the bot's
// own messages, other conversations and malformed bodies.
func TestLiveMessageSameEventsAsGeneralPath(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	newConn := func() *wsConn {
		a, err := New(Config{Account: "1000", Username: "bot", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"},
			Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		a.convs["c-1"] = &convState{assigned: true, main: "c-1", dialogs: dialogTypes{{"c-1", dialogMain}, {"s-1", dialogSurvey}},
			ref:     botrelay.ConversationRef{ID: "c-1", DialogID: "c-1", Type: botrelay.Messaging, ConsumerID: "cons-1", SkillID: 3},
			context: json.RawMessage(`{"type":"SharkContext","lang":"en-US","visitorId":"v-1"}`)}
		a.convs["c-9"] = &convState{main: "c-9", dialogs: dialogTypes{{"c-9", dialogMain}},
			ref: botrelay.ConversationRef{ID: "c-9", DialogID: "c-9", ConsumerID: "cons-9"}}
		return &wsConn{a: a, ctx: context.Background(), q: newQueue(), st: &loginState{legacyID: "1000.12", userPID: "p-12"},
			pending: map[string]chan inFrame{}}
	}
	var bodies []string
	bodies = append(bodies, lpEventCases(t)...)
	for _, ev := range []string{
		`{"type":"ContentEvent","contentType":"hosted/file","message":{"relativePath":"/f/1","fileType":"PNG","caption":"c"}}`,
		`{"type":"ContentEvent","contentType":"hosted/file","message":{"fileType":"PNG"}}`,
		`{"type":"ContentEvent","message":7}`, `{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}`,
		`{"type":"RichContentEvent","content":null}`, `{"type":"ChatStateEvent","chatState":"COMPOSING"}`,
		`{"type":"ChatStateEvent","chatState":"PAUSE"}`, `{"type":"ChatStateEvent","chatState":"ODD"}`,
		`{"type":"AcceptStatusEvent","status":"READ","sequenceList":[1]}`, `"not an object"`, `null`, `{"type":7}`,
	} {
		for _, who := range []string{`"originatorId":"cons-1","originatorMetadata":{"id":"cons-1","role":"CONSUMER"}`,
			`"originatorId":"cons-1"`, `"originatorId":"x","originatorMetadata":{"role":"ASSIGNED_AGENT"}`} {
			for _, conv := range []string{`"conversationId":"c-1","dialogId":"c-1"`, `"dialogId":"s-1"`, `"conversationId":"c-9","dialogId":"c-9"`} {
				bodies = append(bodies, `{"sequence":5,`+conv+`,"serverTimestamp":1764000000000,`+who+`,"event":`+ev+`,"metadata":[{"id":"m"}]}`)
			}
		}
	}
	base := `"conversationId":"c-1","dialogId":"c-1","originatorId":"cons-1","originatorMetadata":{"id":"cons-1","role":"CONSUMER"}`
	text := `"event":{"type":"ContentEvent","contentType":"text/plain","message":"x"}`
	bodies = append(bodies,
		`{"sequence":"5",`+base+`,`+text+`}`, `{"sequence":5.0,`+base+`,`+text+`}`, `{"sequence":1e2,`+base+`,`+text+`}`,
		`{"sequence":-7,`+base+`,`+text+`}`, `{"sequence":99999999999999999999,`+base+`,`+text+`}`, `{"sequence":null,`+base+`,`+text+`}`,
		`{"Sequence":5,`+base+`,`+text+`}`, `{"SEQUENCE":5,"sequence":6,`+base+`,`+text+`}`, `{"sequence":5,`+base+`,"Event":{"type":"ContentEvent","message":"y"}}`,
		`{"sequence":5,"conversationId":"c\u002d1","dialogId":"c-1","originatorId":"cons-1",`+text+`}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","message":"a \"quoted\" \u00e9 text"}}`,
		`{"sequence":5,`+base+`,"event":{"type":"Content\u0045vent","message":"x"}}`,
		`{"sequence":5,`+base+`,"event":{"TYPE":"ContentEvent","message":"x"}}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","type":"ChatStateEvent","chatState":"COMPOSING"}}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","contentType":null,"message":null}}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","contentType":7,"message":"x"}}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","message":"x","extra":{"deep":[1,"<"]}}}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","message":"x"},"metadata":null}`,
		`{"sequence":5,`+base+`,"event":{"type":"ContentEvent","message":"x"},"metadata":{"type":"one"}}`,
		`{"sequence":5,"conversationId":"c-1","dialogId":"c-1","originatorId":"cons-1","originatorMetadata":{"ID":"cons-1","Role":"CONSUMER"},`+text+`}`,
		`{"sequence":5,"conversationId":"c-1","dialogId":"c-1","originatorId":"cons-1","originatorMetadata":null,`+text+`}`,
		`{"sequence":5,"conversationId":"c-1","dialogId":"c-1","originatorId":"cons-1","originatorMetadata":["x"],`+text+`}`,
		`{"sequence":5,"conversationId":null,"dialogId":"c-1","originatorId":"cons-1",`+text+`,"serverTimestamp":-1}`,
		`{"sequence":5,`+base+`,`+text+`,"conversationld":"other","dialog_id":"x","ſequence":9}`,
		`{"sequence":5,`+base+`,`+text+`,"serverTimestamp":"1764000000000"}`,
	)
	fast, events := 0, 0
	for _, body := range bodies {
		for _, frame := range []string{
			`{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":` + body + `}`,
			`{"type":".ams.ms.OnlineEventDistribution","body":` + body + `,"kind":"notification"}`,
			`{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":` + body + `,"extra":1}`,
		} {
			if !json.Valid([]byte(frame)) {
				continue
			}
			one, general := newConn(), newConn()
			took := one.liveMessage([]byte(frame))
			if !took {
				continue
			}
			fast++
			general.anyFrame([]byte(frame))
			events += len(general.q.items)
			if !reflect.DeepEqual(one.q.items, general.q.items) {
				t.Errorf("frame %s\n one pass: %s\n general:  %s", frame, dump(one.q.items), dump(general.q.items))
			}
		}
	}
	if fast < 100 || events < 30 {
		t.Errorf("only %d frames took the one-pass path, giving %d events", fast, events)
	}
}

func dump(evs []*botrelay.PlatformEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%+v (raw %s) ", *ev, ev.Raw)
	}
	return b.String()
}

// TestPublishTextFrameLikeEncodingJSON: a text's PublishEvent frame, written
// directly, is byte for byte what encoding/json makes of the request with
// Publish's body, whatever the text, quick replies, audience and metadata.
func TestPublishTextFrameLikeEncodingJSON(t *testing.T) {
	n := 0
	for i, text := range []string{"hi", "Grüße 🚀 東京", "<b>Tom & Jerry</b>", `"q" \ /`, "tab\tline\n", "\x00\x7f", "bad \xff", "a\u2028b"} {
		for j, qr := range []string{"", "null", " ", `{"type":"quickReplies","replies":[{"title":"Yes & <no>"}]}`, "{ \"a\" : [1, 2] }\n"} {
			for k, meta := range []string{"", `[{"type":"ExternalId","id":"botrelay:s1:0"}]`, `{"type":"BotResponse","x":"<"}`, " [ ] "} {
				m := &botrelay.Message{Text: text, QuickReplies: json.RawMessage(qr), Metadata: json.RawMessage(meta),
					Audience: []string{"", "ALL", botrelay.AudienceAgentsAndManagers, "<odd>"}[(i+j+k)%4], EncodedMetadata: []string{"", "e30=", "a&b"}[(i+k)%3]}
				conv := botrelay.ConversationRef{ID: "c-1", DialogID: []botrelay.DialogID{"", "d-1", "d<&>"}[(j+k)%3]}
				body, err := publishBody(conv, m)
				if err != nil {
					t.Fatal(err)
				}
				md, err := metadataArray(m.Metadata)
				if err != nil {
					t.Fatal(err)
				}
				id := strconv.Itoa(i*100 + j*10 + k)
				want, err := json.Marshal(outFrame{Kind: "req", ID: id, Type: ".ams.ms.PublishEvent", Body: body, Metadata: md, EncodedMetadata: m.EncodedMetadata})
				if err != nil {
					t.Fatal(err)
				}
				got, err := publishTextFrame(id, conv, m, md)
				if err != nil || string(got) != string(want) {
					t.Fatalf("%+v:\n direct        %s (%v)\n encoding/json %s", m, got, err, want)
				}
				n++
			}
		}
	}
	if n != 160 {
		t.Fatalf("%d frames compared", n)
	}
}
