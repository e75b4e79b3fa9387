package liveperson

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// convChangeFrame is an ExConversationChangeNotification frame as the hub
// writes it, with n conversations from first on: each open, on skill 3,
// assigned to the bot (legacy id 1000.12, PID p-12), its main dialog with
// the hub's handoff and last-consumer sequences.
func convChangeFrame(t testing.TB, first, n int, state, change string) []byte {
	t.Helper()
	body := ums.ConversationChangeBody{SubscriptionID: "sub-1"}
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("c0000000-0000-4000-8000-%012d", i)
		last := int64(i % 7)
		body.Changes = append(body.Changes, ums.ConversationChange{Type: change, Result: ums.ConversationResult{ConvID: id,
			ConversationDetails: ums.ConversationDetails{ConvID: id, SkillID: "3", BrandID: "1000", State: state, Stage: state,
				StartTs: 1764000000000, MetaDataLastUpdateTs: 1764000000000, TTR: ums.TTR{TTRType: "NORMAL", Value: 600},
				Context:         json.RawMessage(`{"type":"SharkContext","lang":"en-US","visitorId":"v-` + id[len(id)-4:] + `","clientProperties":{}}`),
				Participants:    map[string][]string{"CONSUMER": {"cons-" + id}, "ASSIGNED_AGENT": {"1000.12"}},
				ParticipantsPID: map[string][]string{"CONSUMER": {"cons-" + id}, "ASSIGNED_AGENT": {"p-12"}},
				Dialogs: []ums.DialogDetails{{DialogID: id, DialogType: "MAIN", ChannelType: "MESSAGING", State: state,
					CreationTs: 1764000000000, MetaData: map[string]any{}, HandoffSequence: int64(i % 3), LastConsumerSequence: &last,
					ParticipantsDetails: []ums.ParticipantDetails{{ID: "cons-" + id, Role: "CONSUMER", State: "ACTIVE"},
						{ID: "p-12", Role: "ASSIGNED_AGENT", State: "ACTIVE"}}}}}}})
	}
	data, err := json.Marshal(ums.NewNotification(notifyConversations, body))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func convConn(t testing.TB) *wsConn {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	a, err := New(Config{Account: "1000", Username: "bot", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"},
		Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return &wsConn{a: a, ctx: context.Background(), q: newQueue(), st: &loginState{legacyID: "1000.12", userPID: "p-12"},
		pending: map[string]chan inFrame{}, gen: 1}
}

// TestConversationFrameSameEventsAsGeneralPath: a conversation
// notification read straight from the frame gives the relay the same
// events, in the same order, and leaves the adapter knowing the same
// conversations, as the general path (the frame decoded, then its body),
// for a snapshot chunk, a later change, a close and a delete, each in the
// hub's form and in forms only the general path reads.
func TestConversationFrameSameEventsAsGeneralPath(t *testing.T) {
	frames := []string{
		string(convChangeFrame(t, 0, 3, "OPEN", "UPSERT")),
		string(convChangeFrame(t, 1, 1, "CLOSE", "UPSERT")),
		string(convChangeFrame(t, 2, 1, "OPEN", "DELETE")),
	}
	var odd []string
	for _, f := range frames {
		odd = append(odd,
			strings.Replace(f, `"kind":"notification",`, ``, 1), // no kind: not a notification
			strings.Replace(f, `{"kind":"notification",`, `{"kind":"notification","extra":1,`, 1),
			strings.Replace(f, `"type":".ams.aam.`, `"type":"\u002eams.aam.`, 1),
			strings.Replace(f, `{"kind"`, ` { "kind"`, 1),
			strings.Replace(f, `"convId":"c0000000`, `"CONVID":"c0000000`, 1),
			f[:len(f)-1], // cut short: not JSON
		)
	}
	one, general := convConn(t), convConn(t)
	fast := 0
	for _, f := range append(frames, odd...) {
		if one.liveMessage([]byte(f)) {
			fast++
		} else {
			one.anyFrame([]byte(f))
		}
		general.anyFrame([]byte(f))
		if !reflect.DeepEqual(one.q.items, general.q.items) {
			t.Fatalf("frame %.300s…\n one pass: %s\n general:  %s", f, dump(one.q.items), dump(general.q.items))
		}
		if !reflect.DeepEqual(one.a.convs, general.a.convs) {
			t.Fatalf("frame %.300s…: the adapters know different conversations", f)
		}
	}
	if fast < len(frames) {
		t.Errorf("%d frames took the one-pass path; want at least the hub's %d", fast, len(frames))
	}
	if n := len(general.q.items); n < 4 {
		t.Errorf("%d events in all; want the three assignments and the close at least", n)
	}
	if assigned := general.q.items[0]; assigned.Kind != botrelay.EventAssigned || assigned.Conversation.ID != "c0000000-0000-4000-8000-000000000000" {
		t.Errorf("first event %+v; want the first conversation assigned", *assigned)
	}
}

// BenchmarkSnapshotChunk is the adapter reading one snapshot chunk of 500
// conversations, as the hub sends a bot its conversations at login:
// "general" decodes the frame and then its body, "frame" is what the
// adapter does now.
func BenchmarkSnapshotChunk(b *testing.B) {
	data := convChangeFrame(b, 0, 500, "OPEN", "UPSERT")
	b.Logf("%d bytes", len(data))
	for _, c := range []struct {
		name string
		read func(wc *wsConn, data []byte)
	}{{"general", (*wsConn).anyFrame}, {"frame", (*wsConn).frame}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				wc := convConn(b)
				c.read(wc, data)
				if len(wc.q.items) != 500 {
					b.Fatalf("%d events, want 500", len(wc.q.items))
				}
			}
		})
	}
}
