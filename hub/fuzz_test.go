package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// FuzzConsumerFrame sends arbitrary frames on a real consumer websocket of
// a running hub (with an open conversation; "CONV" in a frame stands for
// its id) and checks what the consumer sees: every frame the hub sends is
// a JSON object, no answer is a 5xx, and the connection keeps answering.
//
//	go test -run '^$' -fuzz '^FuzzConsumerFrame$' -fuzztime 15s ./hub
func FuzzConsumerFrame(f *testing.F) {
	fx := seed(f, filepath.Join(f.TempDir(), "botrelay.db"))
	srv, _ := startHubWith(f, fx, time.Minute, nil)
	ctx := context.Background()
	var tok struct {
		Token string `json:"token"`
	}
	res, err := srv.Client().Post(srv.URL+"/api/account/1000/consumer/token", "application/json", strings.NewReader("{}"))
	if err != nil {
		f.Fatal(err)
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil {
		f.Fatal(err)
	}
	ws, _, err := websocket.Dial(ctx, wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3&token="+tok.Token,
		&websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		f.Fatal(err)
	}
	ws.SetReadLimit(16 << 20)
	f.Cleanup(func() { ws.Close(websocket.StatusNormalClosure, "") })
	frames := make(chan []byte, 1024)
	go func() {
		defer close(frames)
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			frames <- data
		}
	}()
	n := 0
	// call sends frame, then a GetClock sentinel, and returns every frame
	// received until the sentinel's answer.
	call := func(tb testing.TB, frame string) []map[string]any {
		n++
		sentinel := fmt.Sprintf("sentinel-%d", n)
		for _, fr := range []string{frame, `{"kind":"req","id":"` + sentinel + `","type":"GetClock"}`} {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := ws.Write(wctx, websocket.MessageText, []byte(fr))
			cancel()
			if err != nil {
				tb.Fatalf("write %q: %v", fr, err)
			}
		}
		var got []map[string]any
		deadline := time.After(10 * time.Second)
		for {
			select {
			case data, ok := <-frames:
				if !ok {
					tb.Fatalf("the hub closed the connection after %q", frame)
				}
				var m map[string]any
				if err := json.Unmarshal(data, &m); err != nil {
					tb.Fatalf("after %q the hub sent a frame that is not a JSON object: %q", frame, data)
				}
				if m["reqId"] == sentinel {
					return got
				}
				got = append(got, m)
			case <-deadline:
				tb.Fatalf("no answer to the sentinel within 10s after %q", frame)
			}
		}
	}
	var conv string
	for _, m := range call(f, `{"kind":"req","id":"open","type":"cm.ConsumerRequestConversation","body":{"brandId":"1000","skill":"human"}}`) {
		if m["reqId"] == "open" {
			conv, _ = get(m, "body", "conversationId").(string)
		}
	}
	if conv == "" {
		f.Fatal("no conversation opened")
	}
	for _, s := range []string{
		`{"kind":"req","id":"1","type":"ms.PublishEvent","body":{"dialogId":"CONV","event":{"type":"ContentEvent","contentType":"text/plain","message":"hi"}}}`,
		`{"kind":"req","id":"2","type":"ms.PublishEvent","body":{"dialogId":"CONV","event":{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}}}`,
		`{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"dialogId":"CONV","event":{"type":"ChatStateEvent","chatState":"COMPOSING"}}}`,
		`{"kind":"req","id":"4","type":"ms.PublishEvent","body":{"dialogId":"CONV","event":{"type":"AcceptStatusEvent","status":"READ","sequenceList":[1]}}}`,
		`{"kind":"req","id":"5","type":"ms.PublishEvent","body":{"dialogId":"CONV","event":{"type":"ContentEvent","contentType":"hosted/file","message":{"relativePath":"x/y","fileType":"PNG"}}}}`,
		`{"kind":"req","id":"6","type":"ms.QueryMessages","body":{"dialogId":"CONV","newerThanSequence":0,"maxQuantity":10}}`,
		`{"kind":"req","id":"7","type":"ms.SubscribeMessagingEvents","body":{"dialogId":"CONV","conversationId":"CONV","fromSeq":0}}`,
		`{"kind":"req","id":"8","type":"cqm.SubscribeExConversations","body":{"brandId":"1000","convState":["OPEN","CLOSE"]}}`,
		`{"kind":"req","id":"9","type":"cqm.UnsubscribeExConversations","body":{"subscriptionId":"x"}}`,
		`{"kind":"req","id":"10","type":"cm.UpdateConversationField","body":{"conversationId":"CONV","conversationField":[{"field":"CSATRate","csatRate":5}]}}`,
		`{"kind":"req","id":"11","type":"cm.ConsumerRequestConversation","body":{"brandId":"1000","skillId":"2","conversationContext":{"type":"SharkContext"}}}`,
		`{"kind":"req","id":"12","type":".ams.GetClock","headers":[],"metadata":[{"type":"x"}],"encodedMetadata":"e30="}`,
		`{"kind":"req","id":"13","type":"ms.PublishEvent","body":{"dialogId":"CONV","event":{"type":"ContentEvent","message":"x"},"messageAudience":"AGENTS_AND_MANAGERS"}}`,
		`{"kind":"req","id":14,"type":"routing.SetAgentState","body":{"availability":"ONLINE"}}`,
		``, `null`, `[]`, `{}`, `{"kind":"req","id":"1","type":"x","body":"str"}`, "{\"kind\":\"req\",\"id\":\"1\",\"type\":\"x\"\xff}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return // larger frames are the frame decoder's fuzz target's business (and 1 MiB closes with 1009)
		}
		frame := strings.ReplaceAll(string(data), "CONV", conv)
		for _, m := range call(t, frame) {
			if code, ok := m["code"].(float64); ok && code >= 500 {
				t.Fatalf("frame %q got %v", frame, m)
			}
		}
	})
}
