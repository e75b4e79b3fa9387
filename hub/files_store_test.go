package hub_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// download GETs url on n with the header and returns the status and body.
func download(t *testing.T, n *node, url string, header http.Header) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestFilesAcrossNodes: a file uploaded on one node downloads from another,
// by the uploader's token and by a signed link; nothing is written to the
// uploading node's disk.
func TestFilesAcrossNodes(t *testing.T) {
	path, _ := seedFile(t)
	dirA := t.TempDir()
	a := startNode(t, path, dirA, nil)
	b := startNode(t, path, "", nil)

	alice := agentWS(t, a, login(t, a.srv.URL, a.srv.Client(), "alice"))
	alice.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	alice.mustCall(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	tok := consumerToken(t, a.srv)
	cons := consumerWS(t, a.srv, tok)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv)

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 0xff, 0x80}, 5000)...)
	rel := upload(t, a.srv, tok, "pic.png", png, 200)
	if entries, _ := os.ReadDir(filepath.Join(dirA, "files")); len(entries) != 0 {
		t.Fatalf("the upload wrote %d entries under the data folder's files/", len(entries))
	}

	code, got := download(t, b, b.srv.URL+"/api/account/1000/files/"+rel, http.Header{"Authorization": {"Bearer " + tok}})
	if code != 200 || !bytes.Equal(got, png) {
		t.Fatalf("download on B with the uploader's token: %d, %d bytes (want 200, %d bytes)", code, len(got), len(png))
	}
	link := alice.mustCall(".ams.ms.GenerateURLForDownloadFile", map[string]any{"relativePath": rel})
	u := get(link, "url").(string)
	onB := b.srv.URL + u[strings.Index(u, "/api/account/"):]
	code, got = download(t, b, onB, nil)
	if code != 200 || !bytes.Equal(got, png) {
		t.Fatalf("signed link from A used on B: %d, %d bytes", code, len(got))
	}
	// A link for another path is refused on B as on A.
	other := strings.Replace(onB, rel, rel[:strings.LastIndexByte(rel, '/')+1]+"AAAAAAAAAAAAAAAAAAAA.png", 1)
	if code, body := download(t, b, other, nil); code != 403 {
		t.Fatalf("a link signed for another file: %d %s, want 403", code, body)
	}
}

// TestFilesFromDiskStillServed: a file an older version wrote under
// DataDir/files is served after the upgrade, with the same checks.
func TestFilesFromDiskStillServed(t *testing.T) {
	path, _ := seedFile(t)
	dir := t.TempDir()
	a := startNode(t, path, dir, nil)
	var who struct {
		Token      string `json:"token"`
		ConsumerID string `json:"consumerId"`
	}
	if code := postJSON(t, a.srv.Client(), a.srv.URL+"/api/account/1000/consumer/token", nil, map[string]string{}, &who); code != 200 {
		t.Fatalf("consumer token: %d", code)
	}
	tok, consumer := who.Token, who.ConsumerID
	rel := consumer + "/0123456789abcdef0123.txt"
	if err := os.MkdirAll(filepath.Join(dir, "files", consumer), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files", filepath.FromSlash(rel)), []byte("from before the upgrade"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, got := download(t, a, a.srv.URL+"/api/account/1000/files/"+rel, http.Header{"Authorization": {"Bearer " + tok}})
	if code != 200 || string(got) != "from before the upgrade" {
		t.Fatalf("old file: %d %q", code, got)
	}
	if code, _ := download(t, a, a.srv.URL+"/api/account/1000/files/"+rel, http.Header{"Authorization": {"Bearer " + consumerToken(t, a.srv)}}); code != 403 {
		t.Fatalf("old file with another consumer's token: %d, want 403", code)
	}
	if code, _ := download(t, a, a.srv.URL+"/api/account/1000/files/"+consumer+"/ffffffffffffffffffff.txt", http.Header{"Authorization": {"Bearer " + tok}}); code != 404 {
		t.Fatalf("a file on neither: %d, want 404", code)
	}
}
