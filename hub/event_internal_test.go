package hub

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestEventReadPlainLikeEncodingJSON: a published event read member by
// member reads exactly as encoding/json reads it, and the ones it leaves to
// encoding/json are the ones it cannot read plainly.
func TestEventReadPlainLikeEncodingJSON(t *testing.T) {
	plain := 0
	for _, raw := range []string{
		`{"type":"ContentEvent","contentType":"text/plain","message":"hi <b>&</b> Grüße 🚀"}`,
		`{"type":"ContentEvent","message":"a \"quoted\" \u00e9"}`,
		`{"type":"ContentEvent","contentType":"hosted/file","message":{"relativePath":"/f/1","fileType":"PNG"}}`,
		`{"type":"RichContentEvent","content":{"type":"vertical","elements":[]},"extra":[1,{"type":"x"}]}`,
		`{"type":"ChatStateEvent","chatState":"COMPOSING"}`, `{"type":"AcceptStatusEvent","status":"READ","sequenceList":[1,2]}`,
		`{"type":"AcceptStatusEvent","status":"READ","sequenceList":null}`,
		`{"type":null,"contentType":null,"message":null,"chatState":null,"status":null,"content":null}`,
		`{"type":"ContentEvent","type":"ChatStateEvent"}`, `{"type":"ContentEvent","type":null}`, `{"message":"a","message":"b"}`,
		`{"Type":"ContentEvent","message":"x"}`, `{"type":"ContentEvent","MESSAGE":"x"}`, `{"type":"ContentEvent","contenttype":"text/html"}`,
		`{"type":"Content\u0045vent","message":"x"}`, `{"type":5}`, `{"chatState":["x"]}`, `{"status":{}}`, `{"type":true}`,
		`{"tyṗe":"x"}`, `{"ſtatus":"READ"}`, `{ "type" : "ContentEvent" , "message" : "spaced" }`, `{}`, `[]`, `"text"`,
	} {
		var want eventShape
		werr := json.Unmarshal([]byte(raw), &want)
		var got eventShape
		if !got.readPlain([]byte(raw)) {
			continue
		}
		plain++
		if werr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: member by member %+v, encoding/json %+v (%v)", raw, got, want, werr)
		}
	}
	if plain < 10 {
		t.Errorf("only %d events read member by member", plain)
	}
}
