package hub_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
)

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

// newMultipart writes a form with one "file" field and returns its content type.
func newMultipart(buf *bytes.Buffer, name string, data []byte) string {
	mw := multipart.NewWriter(buf)
	w, _ := mw.CreateFormFile("file", name)
	_, _ = w.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType()
}
