package limits

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For header is
// believed. The zero value (and nil) trusts none: the client address is
// the TCP peer's.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads a list of IP addresses and CIDR networks separated
// by commas or spaces, such as "127.0.0.1, 10.0.0.0/8". An empty list
// trusts no proxy.
func ParseProxies(s string) (*Proxies, error) {
	p := &Proxies{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if strings.Contains(f, "/") {
			pr, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP network such as 10.0.0.0/8", f)
			}
			p.prefixes = append(p.prefixes, pr.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or network", f)
		}
		a = a.Unmap()
		p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

// trusted reports whether a is one of the proxies.
func (p *Proxies) trusted(a netip.Addr) bool {
	if p == nil {
		return false
	}
	a = a.Unmap()
	for _, pr := range p.prefixes {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the client address of r: the TCP peer's IP address;
// or, when the peer is a trusted proxy, the nearest address in
// X-Forwarded-For that is not a trusted proxy (read from the right, since
// a client can put anything on the left).
func (p *Proxies) ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !p.trusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !p.trusted(client) {
			break
		}
	}
	return client.String()
}

// ClientAddr returns the TCP peer's IP address of r, trusting no proxy.
func ClientAddr(r *http.Request) string {
	var p *Proxies
	return p.ClientAddr(r)
}
