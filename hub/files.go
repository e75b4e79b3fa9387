package hub

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// MaxUploadSize bounds an uploaded file.
const MaxUploadSize = 10 << 20

// fileTypes maps the accepted extensions to the fileType of hosted-file
// events and the content type the file is served with.
var fileTypes = map[string]struct{ fileType, mime string }{
	"png":  {"PNG", "image/png"},
	"jpg":  {"JPG", "image/jpeg"},
	"jpeg": {"JPEG", "image/jpeg"},
	"gif":  {"GIF", "image/gif"},
	"pdf":  {"PDF", "application/pdf"},
	"txt":  {"TXT", "text/plain; charset=utf-8"},
}

// relativePath is "<consumerId>/<random>.<ext>".
var relativePathPattern = regexp.MustCompile(`^([0-9a-f-]{36})/([A-Za-z0-9_-]{16,64})\.(png|jpg|jpeg|gif|pdf|txt)$`)

// fileOwner returns the consumer that uploaded a file, from its path.
func fileOwner(rel string) (botrelay.ConsumerID, bool) {
	m := relativePathPattern.FindStringSubmatch(rel)
	if m == nil {
		return "", false
	}
	return botrelay.ConsumerID(m[1]), true
}

// handleUpload stores a consumer's file in the store, where every node
// finds it.
func (h *Hub) handleUpload(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	consumer, err := h.consumerFromRequest(r)
	if err != nil {
		unauthorized(w, "a valid consumer token is required")
		return
	}
	if err := h.o.Consumers.Upload(h.o.ClientAddr(r)); err != nil {
		writeLimited(w, err)
		return
	}
	h.acceptUpload(w, r, consumer)
}

// acceptUpload reads the request's file and stores it among the
// consumer's files, answering {"relativePath","fileType"}: the consumer's
// own uploads and an agent's file for the consumer (console.go).
func (h *Hub) acceptUpload(w http.ResponseWriter, r *http.Request, consumer botrelay.ConsumerID) {
	data, ext, err := readUpload(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	rel, err := h.storeUpload(r.Context(), consumer, ext, data)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"relativePath": rel, "fileType": fileTypes[ext].fileType})
}

func newToken() string {
	return strings.ReplaceAll(newID(), "-", "")
}

// handleDownload serves a file to the consumer that uploaded it, to agents
// with a session, and to holders of a signed URL.
func (h *Hub) handleDownload(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	rel := r.PathValue("path")
	owner, ok := fileOwner(rel)
	if !ok {
		writeError(w, botrelay.Errorf(botrelay.ENOTFOUND, "file not found"))
		return
	}
	// The consumer who uploaded the file, by the token in Authorization;
	// everyone else (agents, bots, vendors) by a signed link, which
	// GenerateURLForDownloadFile gives the conversation's participants.
	allowed := false
	if tok := bearerFromHeader(r); tok != "" {
		c, err := h.verifyConsumerToken(tok)
		allowed = err == nil && c == owner
	}
	if !allowed {
		q := r.URL.Query()
		exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
		allowed = err == nil && exp > h.now().Unix() && exp <= h.now().Add(FileURLTTL).Unix() &&
			hmac.Equal([]byte(q.Get("sig")), []byte(h.signFile(rel, q.Get("exp"))))
	}
	if !allowed && r.Header.Get("Authorization") == "" && !r.URL.Query().Has("sig") && !r.URL.Query().Has("exp") {
		unauthorized(w, "a signed download link (GenerateURLForDownloadFile) or the uploader's consumer token is required")
		return
	}
	if !allowed {
		writeError(w, botrelay.Errorf(botrelay.EFORBIDDEN, "this file needs a valid, unexpired download link; "+
			"ask for a new one (GenerateURLForDownloadFile)"))
		return
	}
	content, modTime, err := h.readFile(r.Context(), rel)
	if err != nil {
		writeError(w, err)
		return
	}
	ext := rel[strings.LastIndexByte(rel, '.')+1:]
	w.Header().Set("Content-Type", fileTypes[ext].mime)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", modTime, bytes.NewReader(content))
}

// readFile returns an uploaded file's content: from the store, or from
// DataDir/files, where versions before the store kept uploads.
func (h *Hub) readFile(ctx context.Context, rel string) ([]byte, time.Time, error) {
	f, err := h.store.HubFile(ctx, h.o.Account, rel)
	if err == nil {
		return f.Content, f.CreatedAt, nil
	}
	if botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		h.log.Error("read uploaded file", "err", err)
		return nil, time.Time{}, err
	}
	path := filepath.Join(h.files, filepath.FromSlash(rel))
	st, statErr := os.Stat(path)
	if statErr != nil || !st.Mode().IsRegular() || st.Size() > MaxUploadSize {
		return nil, time.Time{}, botrelay.Errorf(botrelay.ENOTFOUND, "file not found")
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, botrelay.Errorf(botrelay.ENOTFOUND, "file not found")
	}
	return content, st.ModTime(), nil
}

// FileURLTTL is how long a download link works.
const FileURLTTL = 10 * time.Minute

// deriveFileKey derives the download-link key from the signing key.
func deriveFileKey(signingKey []byte) []byte {
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte("botrelay hub file links v1"))
	return m.Sum(nil)
}

// signFile is the signature of a download link for rel expiring at exp
// (Unix seconds).
func (h *Hub) signFile(rel, exp string) string {
	m := hmac.New(sha256.New, h.fileKey)
	m.Write([]byte(string(h.o.Account) + "|" + rel + "|" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// mayDownload reports whether the session's user may have links to the
// files of the consumer: with conversation:view-all, or as an active
// participant of one of the consumer's conversations the hub holds.
func (h *Hub) mayDownload(s *session, owner botrelay.ConsumerID) bool {
	if s.viewAll {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cs := range h.convs {
		if cs.c.ConsumerID == owner && cs.c.HasUser(s.user.ID) {
			return true
		}
	}
	return false
}

// downloadURL answers GenerateURLForDownloadFile with a link signed for
// FileURLTTL, for the participants of the file's conversations (and
// conversation:view-all). The link carries no bearer: an expiry and an
// HMAC over the account, the path and the expiry.
func (h *Hub) downloadURL(s *session, host, rel string) (any, error) {
	owner, ok := fileOwner(rel)
	if !ok {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "file %q not found", rel)
	}
	if !h.mayDownload(s, owner) {
		return nil, botrelay.Errorf(botrelay.EFORBIDDEN, "only the participants of the file's conversation (or users with %s) get its download link",
			botrelay.PermConvViewAll)
	}
	exp := strconv.FormatInt(h.now().Add(FileURLTTL).Unix(), 10)
	sig := h.signFile(rel, exp)
	path := "/api/account/" + string(h.o.Account) + "/files/" + rel
	q := url.Values{"exp": {exp}, "sig": {sig}}
	return map[string]any{
		"relativePath": path,
		"queryParams":  map[string]string{"exp": exp, "sig": sig},
		"url":          "https://" + host + path + "?" + q.Encode(),
	}, nil
}

// generateDownloadURL answers ms.GenerateURLForDownloadFile (see
// downloadURL).
func (h *Hub) generateDownloadURL(_ context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		RelativePath string `json:"relativePath"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	return h.downloadURL(c.sess, c.host, b.RelativePath)
}

// readUpload reads the multipart field "file" of an upload and checks its
// size, its extension and that its content matches the extension. It
// returns the content and the extension, lower-cased.
func readUpload(w http.ResponseWriter, r *http.Request) ([]byte, string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadSize+64<<10)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", botrelay.Errorf(botrelay.EINVALID, "the file is larger than 10 MB")
		}
		return nil, "", botrelay.Errorf(botrelay.EINVALID, "multipart field \"file\" is required")
	}
	defer f.Close()
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(hdr.Filename), "."))
	ft, ok := fileTypes[ext]
	if !ok {
		return nil, "", botrelay.Errorf(botrelay.EINVALID, "file type must be png, jpg, jpeg, gif, pdf or txt")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxUploadSize+1))
	if err != nil {
		return nil, "", botrelay.Errorf(botrelay.EINVALID, "the upload could not be read")
	}
	if len(data) > MaxUploadSize {
		return nil, "", botrelay.Errorf(botrelay.EINVALID, "the file is larger than 10 MB")
	}
	sniffed := http.DetectContentType(data)
	want := strings.SplitN(ft.mime, ";", 2)[0]
	if !strings.HasPrefix(sniffed, want) {
		return nil, "", botrelay.Errorf(botrelay.EINVALID, "the file's content does not match its .%s extension", ext)
	}
	return data, ext, nil
}

// storeUpload stores an uploaded file of consumer under a fresh name and
// returns its relative path "<consumerId>/<random>.<ext>".
func (h *Hub) storeUpload(ctx context.Context, consumer botrelay.ConsumerID, ext string, data []byte) (string, error) {
	rel := string(consumer) + "/" + newToken() + "." + ext
	if _, ok := fileOwner(rel); !ok {
		return "", botrelay.Errorf(botrelay.EINVALID, "consumer id is not usable for files")
	}
	err := h.store.PutHubFile(ctx, &botrelay.HubFile{AccountID: h.o.Account, Path: rel, ConsumerID: consumer, Content: data})
	if err != nil {
		h.log.Error("store upload", "err", err)
		return "", err
	}
	return rel, nil
}
