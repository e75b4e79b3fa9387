package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// agentWithBearer is agentConn that also returns the session's bearer.
func agentWithBearer(t *testing.T, srv *httptest.Server, user string) (*client, string) {
	t.Helper()
	bearer := login(t, srv.URL, srv.Client(), user)
	c := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)
	c.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	c.mustCall(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	c.mustCall(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}})
	return c, bearer
}

// hubGet sends an authorised GET and returns the status and body.
func hubGet(t *testing.T, srv *httptest.Server, path, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// agentUpload posts a file as an agent into a conversation.
func agentUpload(t *testing.T, srv *httptest.Server, bearer, conv, name string, data []byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	ct := newMultipart(&buf, name, data)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/account/1000/agent/files?conversationId="+conv, &buf)
	req.Header.Set("Content-Type", ct)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestRingCarriesConsumerNameAndPreview: a ring names the consumer (from
// the personal engagement attribute), previews their last message and says
// since when the conversation waits; the conversation details name the
// consumer too.
func TestRingCarriesConsumerNameAndPreview(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	cons, consumerID := consumerConn(t, srv)
	before := time.Now().UnixMilli()
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"skill": "human", "conversationContext": map[string]any{
		"type": "SharkContext", "engagementAttributes": []any{map[string]any{"type": "personal", "personal": map[string]any{"firstname": "Dana", "lastname": "Scully"}}},
	}}).(map[string]any)["conversationId"].(string)
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "first"}})
	long := "My order   1234 never arrived " + strings.Repeat("and it is late ", 20)
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": long}})

	bob, _ := agentWithBearer(t, srv, "bob")
	m := bob.waitFor("ring", func(m map[string]any) bool {
		return m["type"] == ".ams.routing.RoutingTaskNotification" && get(get(m, "body", "changes").([]any)[0], "type") == "UPSERT"
	})
	res := get(get(m, "body", "changes").([]any)[0], "result").(map[string]any)
	if res["consumerName"] != "Dana Scully" {
		t.Errorf("consumerName = %v, want Dana Scully", res["consumerName"])
	}
	preview, _ := res["lastConsumerMessage"].(string)
	if !strings.HasPrefix(preview, "My order 1234 never arrived and it is late") || len([]rune(preview)) != 140 || !strings.HasSuffix(preview, "…") {
		t.Errorf("lastConsumerMessage = %q, want the last message, spaces folded, cut to 140 characters", preview)
	}
	for _, k := range []string{"lastConsumerMessageTs", "waitingSinceTs"} {
		if v, _ := res[k].(float64); int64(v) < before-1000 || int64(v) > time.Now().UnixMilli() {
			t.Errorf("%s = %v, want a time since the test started", k, res[k])
		}
	}

	acceptRing(t, bob, conv)
	bob.waitFor("consumer named in the details", func(m map[string]any) bool {
		if m["type"] != ".ams.aam.ExConversationChangeNotification" {
			return false
		}
		for _, ch := range get(m, "body", "changes").([]any) {
			if get(ch, "result", "conversationDetails", "participantNames", consumerID) == "Dana Scully" {
				return true
			}
		}
		return false
	})
}

// TestAgentFileUpload: an agent sends a file into a conversation it takes
// part in; the consumer gets the event and downloads the file with its own
// token. Others cannot upload into the conversation.
func TestAgentFileUpload(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	alice, aliceBearer := agentWithBearer(t, srv, "alice")
	var tok struct {
		Token string `json:"token"`
	}
	postJSON(t, srv.Client(), srv.URL+"/api/account/1000/consumer/token", nil, nil, &tok)
	cons := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3", http.Header{"Authorization": {"jwt " + tok.Token}})
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "conversationId": conv, "fromSeq": 0})

	pdf := []byte("%PDF-1.4\n% receipt\n")
	// Before alice takes the conversation, she may not upload into it.
	if code, out := agentUpload(t, srv, aliceBearer, conv, "receipt.pdf", pdf); code != http.StatusForbidden || get(out, "error", "code") != botrelay.EFORBIDDEN {
		t.Fatalf("upload before accepting: %d %v", code, out)
	}
	acceptRing(t, alice, conv)
	code, out := agentUpload(t, srv, aliceBearer, conv, "receipt.pdf", pdf)
	rel, _ := out["relativePath"].(string)
	if code != http.StatusOK || rel == "" || out["fileType"] != "PDF" {
		t.Fatalf("agent upload: %d %v", code, out)
	}
	alice.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent",
		"contentType": "hosted/file", "message": map[string]any{"relativePath": rel, "fileType": "PDF", "caption": "receipt.pdf"}}})
	cons.waitFor("the agent's file", func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return strings.Contains(string(b), `"contentType":"hosted/file"`) && strings.Contains(string(b), rel)
	})
	if code, body := hubGet(t, srv, "/api/account/1000/files/"+rel, tok.Token); code != http.StatusOK || body != strings.TrimSpace(string(pdf)) {
		t.Fatalf("consumer download: %d %q", code, body)
	}

	// An agent cannot pass another consumer's file into this conversation.
	var other struct {
		Token string `json:"token"`
	}
	postJSON(t, srv.Client(), srv.URL+"/api/account/1000/consumer/token", nil, nil, &other)
	foreign := upload(t, srv, other.Token, "theirs.pdf", pdf, 200)
	code, body := alice.call(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent",
		"contentType": "hosted/file", "message": map[string]any{"relativePath": foreign, "fileType": "PDF"}}})
	if code != http.StatusForbidden || !strings.Contains(fmt.Sprint(body), "agent/files") {
		t.Errorf("publishing another consumer's file: %d %v", code, body)
	}

	// Bad requests.
	if code, out := agentUpload(t, srv, "", conv, "a.pdf", pdf); code != http.StatusUnauthorized || get(out, "error", "code") != botrelay.EUNAUTHORIZED {
		t.Errorf("no bearer: %d %v", code, out)
	}
	if code, out := agentUpload(t, srv, aliceBearer, "", "a.pdf", pdf); code != http.StatusBadRequest || !strings.Contains(get(out, "error", "message").(string), "conversationId") {
		t.Errorf("no conversation: %d %v", code, out)
	}
	if code, out := agentUpload(t, srv, aliceBearer, "nope", "a.pdf", pdf); code != http.StatusNotFound {
		t.Errorf("unknown conversation: %d %v", code, out)
	}
	if code, out := agentUpload(t, srv, aliceBearer, conv, "a.exe", pdf); code != http.StatusBadRequest {
		t.Errorf("bad extension: %d %v", code, out)
	}
	_, bobBearer := agentWithBearer(t, srv, "bob")
	if code, out := agentUpload(t, srv, bobBearer, conv, "a.pdf", pdf); code != http.StatusForbidden {
		t.Errorf("not a participant: %d %v", code, out)
	}
}

// TestConsoleCannedRepliesAndAgents: the console reads canned replies with
// its bearer (canned:view) and lists the agents it can transfer to.
func TestConsoleCannedRepliesAndAgents(t *testing.T) {
	f, srv := newFixtureHub(t, 5*time.Second)
	ctx := context.Background()
	_, alice := agentWithBearer(t, srv, "alice")
	if code, body := hubGet(t, srv, "/api/account/1000/canned-replies", alice); code != 200 || body != "[]" {
		t.Fatalf("empty list: %d %s", code, body)
	}
	for _, c := range []*botrelay.CannedReply{{AccountID: acct, Title: "Refund", Text: "Refunds take 5 days."}, {AccountID: acct, Title: "hello", Text: "Hi!"}} {
		if err := f.store.CreateCannedReply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	code, body := hubGet(t, srv, "/api/account/1000/canned-replies", alice)
	var list []struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
		Text  string `json:"text"`
	}
	_ = json.Unmarshal([]byte(body), &list)
	if code != 200 || len(list) != 2 || list[0].Title != "hello" || list[0].Text != "Hi!" || list[1].Title != "Refund" || list[0].ID == 0 {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := hubGet(t, srv, "/api/account/1000/canned-replies", ""); code != 401 || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Errorf("no bearer: %d %s", code, body)
	}
	if code, body := hubGet(t, srv, "/api/account/2000/canned-replies", alice); code != 404 {
		t.Errorf("other account: %d %s", code, body)
	}

	// A profile without canned:view: 403.
	p := &botrelay.Profile{AccountID: acct, Name: "Handler only", Role: botrelay.RoleAgent, Permissions: []botrelay.Permission{botrelay.PermConvHandle}}
	if err := f.store.CreateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	bob := f.users["bob"]
	bob.ProfileID = p.ID
	if err := f.store.UpdateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	_, bobBearer := agentWithBearer(t, srv, "bob")
	if code, body := hubGet(t, srv, "/api/account/1000/canned-replies", bobBearer); code != 403 || !strings.Contains(body, "canned:view") {
		t.Errorf("without canned:view: %d %s", code, body)
	}

	// Agents: the other human agents who may handle conversations, online
	// first; not bots, not the caller, not users without conversation:handle.
	code, body = hubGet(t, srv, "/api/account/1000/agents", alice)
	want := `[{"id":"1000.` + itoa(bob.ID) + `","name":"bob","availability":"ONLINE"},` +
		`{"id":"1000.` + itoa(f.users["mia"].ID) + `","name":"mia","availability":"OFFLINE"}]`
	if code != 200 || body != want {
		t.Errorf("agents: %d %s\nwant %s", code, body, want)
	}
}

func itoa(id botrelay.UserID) string { return strconv.FormatInt(int64(id), 10) }

// TestRingPreviewAfterRestart: a hub that restarted has not seen the
// consumer's messages; the ring's preview comes from the store.
func TestRingPreviewAfterRestart(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	srv1, h1 := startHub(t, f, 5*time.Second)
	cons, _ := consumerConn(t, srv1)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"skill": "human"}).(map[string]any)["conversationId"].(string)
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "older"}})
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "Still waiting for my parcel"}})
	if err := h1.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, _ := startHub(t, f, 5*time.Second)
	bob, _ := agentWithBearer(t, srv2, "bob")
	bob.waitFor("ring with the preview from the store", func(m map[string]any) bool {
		if m["type"] != ".ams.routing.RoutingTaskNotification" {
			return false
		}
		res := get(get(m, "body", "changes").([]any)[0], "result").(map[string]any)
		return res["conversationId"] == conv && res["lastConsumerMessage"] == "Still waiting for my parcel"
	})
}
