package jsonvalid

import (
	"encoding/json"
	"strings"
	"testing"
)

var cases = []string{
	``, ` `, `null`, ` true `, `false`, `nul`, `nulll`, `True`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`,
	`1e`, `1e+`, `-1.5e10`, `123456789012345678901234567890`, `+1`, `0x10`, `1 2`, `""`, `"a"`, `"\""`, `"\\"`, `"\/"`,
	`"\b\f\n\r\t"`, `"\u00e9"`, `"\u00E9"`, `"\u00g9"`, `"\u00e"`, `"\x"`, `"` + "\x01" + `"`, `"` + "\x7f" + `"`,
	`"` + "\xff\xfe" + `"`, `"é"`, `"unterminated`, `"\`, `{}`, `{ }`, `{"a":1}`, `{"a":1,}`, `{"a" : 1 , "b":[1,2,{"c":null}]}`,
	`{a:1}`, `{"a"}`, `{"a":}`, `{"a":1 "b":2}`, `[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[[[]]]`, `[[[]]`, `]`, `}`, `{"a":1}}`,
	"\t\r\n[1]\n", `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":1}]}}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

// Valid gives encoding/json.Valid's answer.
func TestSameAsEncodingJSON(t *testing.T) {
	for _, c := range cases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%.60q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

func FuzzSameAsEncodingJSON(f *testing.F) {
	for _, c := range cases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

var frame = []byte(`{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":2504,` +
	`"conversationId":"cc52fee3-b9c7-4a1a-b545-64f0d3d3947c","dialogId":"cc52fee3-b9c7-4a1a-b545-64f0d3d3947c",` +
	`"serverTimestamp":1796543893085,"originatorId":"23b8688c-2e55-41c6-b6cc-f994f57f7274","originatorMetadata":` +
	`{"id":"23b8688c-2e55-41c6-b6cc-f994f57f7274","role":"ASSIGNED_AGENT","name":"bench-06fa60-1","userType":"BOT"},` +
	`"event":{"contentType":"text/plain","message":"bench 1250","type":"ContentEvent"},"metadata":[{"id":"botrelay:s2503:0","type":"ExternalId"}]}]}}`)

func BenchmarkValid(b *testing.B) {
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if !Valid(frame) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkEncodingJSONValid(b *testing.B) {
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if !json.Valid(frame) {
			b.Fatal("invalid")
		}
	}
}
