package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/provision"
)

type testResult struct {
	OK bool `json:"ok"`
	// Checked is false when the vendor has no health check; then only the
	// settings were validated.
	Checked bool   `json:"checked"`
	Error   string `json:"error,omitempty"`
}

// testBot runs the vendor's health check with the stored settings within
// the bot's vendor timeout and reports the outcome.
func (a *API) testBot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	vb, err := a.prov.VendorBot(b)
	if botrelay.ErrorCode(err) == botrelay.EINVALID {
		writeJSON(w, http.StatusOK, testResult{Error: botrelay.ErrorMessage(err)})
		return
	} else if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer provision.CloseVendorBot(vb)
	hc, ok := vb.(botrelay.HealthChecker)
	if !ok {
		writeJSON(w, http.StatusOK, testResult{OK: true})
		return
	}
	cctx, cancel := context.WithTimeout(ctx, b.Settings.Limits.VendorTimeout())
	defer cancel()
	if err := hc.CheckHealth(cctx); err != nil {
		writeJSON(w, http.StatusOK, testResult{Checked: true, Error: vendorErrorText(err)})
		return
	}
	writeJSON(w, http.StatusOK, testResult{OK: true, Checked: true})
}

// vendorErrorText is what the connection test shows of a failure: the
// vendor error's code and message, or the error's class.
func vendorErrorText(err error) string {
	var ve *botrelay.VendorError
	switch {
	case errors.As(err, &ve):
		return ve.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "the vendor did not answer in time"
	case botrelay.ErrorCode(err) != botrelay.EINTERNAL:
		return botrelay.ErrorMessage(err)
	}
	return "the vendor check failed"
}
