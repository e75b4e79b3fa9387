package function

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

func TestRunnerRunsInvokedFunctions(t *testing.T) {
	r := &Runner{Timeout: time.Second}
	ctx := context.Background()
	cases := map[string]struct {
		code, input, want string
		wantCode          string
	}{
		"result":    {code: `function lambda(i, cb) { cb(null, {got: i.payload.x * 2}); }`, input: `{"headers":[],"payload":{"x":21}}`, want: `{"got":42}`},
		"no input":  {code: `function lambda(i, cb) { cb(null, {keys: Object.keys(i.payload).length}); }`, want: `{"keys":0}`},
		"throws":    {code: `function lambda(i, cb) { throw new Error("no"); }`, wantCode: CodeInvokeLambda},
		"cb error":  {code: `function lambda(i, cb) { cb(new Error("no")); }`, wantCode: CodeInvokeLambda},
		"loops":     {code: `function lambda(i, cb) { for (;;) {} }`, wantCode: CodeInvokeLambda},
		"no lambda": {code: `var x = 1;`, wantCode: CodeInvokeLambda},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Twice: the second run uses the cached program.
			for range 2 {
				out, err := r.RunScript(ctx, tc.code, json.RawMessage(tc.input))
				if tc.wantCode != "" {
					var ve *botrelay.VendorError
					if !errors.As(err, &ve) || ve.Code != tc.wantCode {
						t.Fatalf("err = %v, want code %s", err, tc.wantCode)
					}
					continue
				}
				if err != nil || string(out) != tc.want {
					t.Fatalf("RunScript = %s, %v; want %s", out, err, tc.want)
				}
			}
		})
	}
	if _, err := r.RunScript(ctx, "function lambda( {", nil); botrelay.ErrorCode(err) != botrelay.EINVALID {
		t.Fatalf("syntax error: %v, want EINVALID", err)
	}
}
