// Package provision creates, edits and deletes bots and bot users: the one
// layer between the management API (and the demo seed, and test rigs) and
// the store for them.
//
// A bot logs in to its platform as its bot user with an API key set that
// provisioning makes for it. The key set is generated, stored (hashed) and
// sealed into Bot.Secrets together with the vendor's secret settings in one
// place, sealNewKey; the relay opens the envelope (package sealed) when it
// starts the bot.
package provision

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/sealed"
)

// Options configure New. Store, Box, Registry and Account are required.
type Options struct {
	Store    botrelay.Store
	Box      sealed.Sealer
	Registry *botrelay.Registry
	Account  botrelay.AccountID
	// Logger receives the failures of clean-up steps. Default: slog.Default().
	Logger *slog.Logger
	// HTTPClient, Now and Signer are given to the vendor clients built to
	// check a bot's settings (Custom Endpoint needs Signer without tokenUrl).
	// Defaults: http.DefaultClient, time.Now, none.
	HTTPClient *http.Client
	Now        func() time.Time
	Signer     botrelay.TokenSigner
}

// Provisioner creates, edits and deletes the bots and bot users of one
// account. It holds no state of its own and is safe for concurrent use.
type Provisioner struct {
	o Options
}

// New returns a Provisioner; it does no I/O.
func New(o Options) *Provisioner {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Provisioner{o: o}
}

// IssuedKey is an API key set as just stored, with the secrets that only
// its creator ever sees (the store keeps their hashes).
type IssuedKey struct {
	Key               *botrelay.APIKey
	Secret            string
	AccessTokenSecret string
}

// credentials is the key set as the bot logs in with it.
func (k *IssuedKey) credentials() sealed.Credentials {
	return sealed.Credentials{AppKey: k.Key.AppKey, Secret: k.Secret, AccessToken: k.Key.AccessToken,
		AccessTokenSecret: k.AccessTokenSecret}
}

// NewAPIKey stores a fresh key set for user and returns it with its secrets.
func (p *Provisioner) NewAPIKey(ctx context.Context, user botrelay.UserID, desc string) (*IssuedKey, error) {
	ks, err := auth.NewKeySet()
	if err != nil {
		return nil, err
	}
	k := &botrelay.APIKey{AppKey: ks.AppKey, UserID: user, AccessToken: ks.AccessToken, Description: desc,
		SecretHash: auth.HashSecret(ks.Secret), AccessTokenSecretHash: auth.HashSecret(ks.AccessTokenSecret)}
	if err := p.o.Store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	return &IssuedKey{Key: k, Secret: ks.Secret, AccessTokenSecret: ks.AccessTokenSecret}, nil
}

// sealNewKey gives b's bot user a fresh API key set (described as desc)
// and seals it with the vendor secrets into b.Secrets, bound to b's
// endpoint settings and platform when bind is set. It returns the new app
// key so that a caller whose later step fails can drop it; on its own
// failure it drops the key itself.
func (p *Provisioner) sealNewKey(ctx context.Context, b *botrelay.Bot, secrets map[string]any, desc string, bind bool) (string, error) {
	k, err := p.NewAPIKey(ctx, b.UserID, desc)
	if err != nil {
		return "", err
	}
	sec := &sealed.Secrets{Vendor: secrets, APIKey: k.credentials()}
	if bind {
		err = p.bindEndpoint(sec, b)
	}
	if err == nil {
		b.Secrets, err = sealed.Seal(p.o.Box, b, sec)
	}
	if err != nil {
		p.dropAPIKey(ctx, k.Key.AppKey)
		return "", err
	}
	return k.Key.AppKey, nil
}

// bindEndpoint binds the vendor secrets in s to b's endpoint settings.
func (p *Provisioner) bindEndpoint(s *sealed.Secrets, b *botrelay.Bot) error {
	conn, err := p.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	return sealed.BindEndpoint(s, conn.Info(), b)
}

// dropAPIKey deletes a key set provisioning made, logging a failure.
func (p *Provisioner) dropAPIKey(ctx context.Context, appKey string) {
	if appKey == "" {
		return
	}
	if err := p.o.Store.DeleteAPIKey(ctx, appKey); err != nil && !errors.Is(err, botrelay.ErrNotFound) {
		p.o.Logger.WarnContext(ctx, "delete bot API key", "err", err)
	}
}
