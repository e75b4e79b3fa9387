// Package sealed is the envelope of a bot's secrets: the JSON object that
// holds the bot user's API key set and the vendor's secret settings, sealed
// into Bot.Secrets with the master key and bound to the bot's id.
//
// Provisioning seals it when it creates or edits a bot; the relay opens it
// when it starts the bot. Neither imports the other for it.
package sealed

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/botrelay/botrelay"
)

// Credentials is the bot user's API key set, kept sealed in Bot.Secrets.
type Credentials struct {
	Username          string `json:"-"`
	AppKey            string `json:"appKey"`
	Secret            string `json:"secret"`
	AccessToken       string `json:"accessToken"`
	AccessTokenSecret string `json:"accessTokenSecret"`
}

// Secrets is the JSON object sealed into Bot.Secrets.
type Secrets struct {
	// Vendor holds the vendor's secret settings (VendorInfo.Secrets keys).
	Vendor map[string]any `json:"vendor,omitempty"`
	// APIKey is the bot user's key set.
	APIKey Credentials `json:"apiKey"`
	// Bound reports that Endpoint holds the values of the vendor's endpoint
	// settings (VendorInfo.Endpoint) the vendor secrets were stored with;
	// secrets sealed before endpoint binding existed are not bound.
	Bound    bool              `json:"bound,omitempty"`
	Endpoint map[string]string `json:"endpoint,omitempty"`
	// Platform is where the API key set logs in (settings.platform when
	// bound): the bot is not logged in elsewhere with it.
	Platform botrelay.PlatformSettings `json:"platform,omitzero"`
	// Fallback holds the secret settings of the fallback vendor named in
	// settings.routing.fallback (vendor and settings); FallbackEndpoint
	// binds them to its endpoint settings as Endpoint binds Vendor.
	Fallback         map[string]any    `json:"fallback,omitempty"`
	FallbackEndpoint map[string]string `json:"fallbackEndpoint,omitempty"`
}

// BindEndpoint records in s the endpoint settings of b's vendor settings,
// so that the vendor secrets go nowhere else (see CheckEndpoint).
func BindEndpoint(s *Secrets, info botrelay.VendorInfo, b *botrelay.Bot) error {
	ep, err := botrelay.EndpointValues(info, b.Settings.Vendor)
	if err != nil {
		return err
	}
	s.Bound, s.Endpoint, s.Platform = true, ep, b.Settings.Platform
	return nil
}

// CheckPlatform refuses to log the bot in with its API key set on another
// platform than the one the set was sealed for (see CheckEndpoint).
func CheckPlatform(s *Secrets, b *botrelay.Bot) error {
	if s.Bound && s.Platform != b.Settings.Platform {
		return botrelay.Errorf(botrelay.EINVALID, "the bot's API key set was stored for another platform than settings.platform; "+
			"update the bot through the API")
	}
	return nil
}

// CheckEndpoint refuses vendor secrets that were sealed for other endpoint
// settings than b's: the API never stores such a pair, so it means the
// stored settings were changed behind its back, and the secrets must not
// follow them.
func CheckEndpoint(s *Secrets, info botrelay.VendorInfo, b *botrelay.Bot) error {
	if !s.Bound || len(s.Vendor) == 0 {
		return nil
	}
	ep, err := botrelay.EndpointValues(info, b.Settings.Vendor)
	if err != nil {
		return err
	}
	if ch := botrelay.ChangedEndpoint(s.Endpoint, ep); len(ch) > 0 {
		return botrelay.Errorf(botrelay.EINVALID, "the stored vendor secrets were saved for other values of %s; "+
			"update the bot with the secrets again", strings.Join(ch, ", "))
	}
	return nil
}

// Sealer opens and seals Bot.Secrets (a *secretbox.Box).
type Sealer interface {
	SealString(plaintext, additionalData string) (string, error)
	OpenString(encoded, additionalData string) (string, error)
}

// AD is the additional data that binds a bot's sealed secrets to it.
func AD(id botrelay.BotID) string { return "bot-secrets:" + string(id) }

// Open decodes a bot's sealed secrets; an empty blob is no secrets.
func Open(box Sealer, b *botrelay.Bot) (*Secrets, error) {
	s := &Secrets{}
	if b.Secrets == "" {
		return s, nil
	}
	plain, err := box.OpenString(b.Secrets, AD(b.ID))
	if err != nil {
		return nil, fmt.Errorf("open secrets of bot %s: %w", b.ID, err)
	}
	if err := json.Unmarshal([]byte(plain), s); err != nil {
		return nil, fmt.Errorf("decode secrets of bot %s: %w", b.ID, err)
	}
	return s, nil
}

// Seal encodes and seals s for b.
func Seal(box Sealer, b *botrelay.Bot, s *Secrets) (string, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	return box.SealString(string(raw), AD(b.ID))
}

// minRedacted is the shortest secret value Values lists; shorter ones
// would blank out ordinary words.
const minRedacted = 6

// Values lists the secret strings of s, and their base64 forms (as Basic
// auth or a token endpoint would carry them), for redaction: what a vendor
// echoes back in an error must not reach the error log, the state history
// or a log line.
func (s *Secrets) Values() []string {
	var out []string
	add := func(v string) {
		if len(v) >= minRedacted {
			out = append(out, v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
		}
	}
	for _, m := range []map[string]any{s.Vendor, s.Fallback} {
		for _, v := range m {
			if str, ok := v.(string); ok {
				add(str)
			}
		}
	}
	add(s.APIKey.Secret)
	add(s.APIKey.AccessTokenSecret)
	// Longest first, so that a secret containing another is blanked whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
