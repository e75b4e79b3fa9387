package webhook

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/botrelay/botrelay"
)

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), which
// netip does not count as private.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// blockedAddr reports whether a target address is one a webhook must not
// reach unless the operator allows private targets: loopback, private,
// link-local (cloud metadata services), unspecified, multicast and CGNAT.
func blockedAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a)
}

// CheckTarget refuses a subscription URL whose host is a blocked literal
// address or a localhost name, unless allowPrivate. Names are checked again
// at every connection (see newClient), so a name that later resolves to a
// private address is refused then.
func CheckTarget(raw string, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return botrelay.Errorf(botrelay.EINVALID, "url is not a URL")
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return botrelay.Errorf(botrelay.EINVALID, "url must not point at this machine (%s); the operator can allow private targets with webhooks.allow_private_targets", host)
	}
	if a, err := netip.ParseAddr(host); err == nil && blockedAddr(a) {
		return botrelay.Errorf(botrelay.EINVALID, "url must not point at a loopback, private or link-local address (%s); the operator can allow private targets with webhooks.allow_private_targets", host)
	}
	return nil
}

// newClient returns the HTTP client deliveries use: no proxy (it would hide
// the target), no redirects followed (a 3xx is a failed attempt), a timeout
// per attempt, and, unless allowPrivate, a dialer that refuses blocked
// addresses after DNS resolution, so a name cannot be pointed at an
// internal service.
func newClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook target %s: %w", address, err)
			}
			if blockedAddr(ap.Addr()) {
				return fmt.Errorf("webhook target %s is a loopback, private or link-local address, which is not allowed", ap.Addr())
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
