package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/uuid"
)

//go:embed demo.js
var demoBotCode string

// seedDemoBot creates and starts the demo bot of DESIGN.md on the first
// start: a function bot on skill bot, bound to its own bot user whose API
// key set the connector keeps sealed, that escalates to skill human.
func (m *Main) seedDemoBot(ctx context.Context, b *botrelay.Bootstrap) error {
	var botSkill botrelay.SkillID
	for _, s := range b.Skills {
		if s.Name == botrelay.SkillNameBot {
			botSkill = s.ID
		}
	}
	var agentProfile botrelay.ProfileID
	for _, p := range b.Profiles {
		if p.Role == botrelay.RoleAgent {
			agentProfile = p.ID
		}
	}
	user := &botrelay.User{AccountID: m.account, Type: botrelay.UserBot, LoginName: "demo-bot", Nickname: "Demo bot",
		ProfileID: agentProfile, MessagingSlots: botrelay.DefaultMaxOpenConversations, Enabled: true,
		SkillIDs: []botrelay.SkillID{botSkill}}
	if err := m.store.CreateUser(ctx, user); err != nil {
		return fmt.Errorf("demo bot user: %w", err)
	}
	keys, err := auth.NewKeySet()
	if err != nil {
		return err
	}
	if err := m.store.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: keys.AppKey, UserID: user.ID, AccessToken: keys.AccessToken,
		Description: "demo bot", SecretHash: auth.HashSecret(keys.Secret),
		AccessTokenSecretHash: auth.HashSecret(keys.AccessTokenSecret)}); err != nil {
		return fmt.Errorf("demo bot API key: %w", err)
	}
	vendor, err := json.Marshal(map[string]any{"code": demoBotCode})
	if err != nil {
		return err
	}
	bot := &botrelay.Bot{ID: botrelay.BotID(uuid.New()), AccountID: m.account, Name: "Demo bot", UserID: user.ID,
		Type: botrelay.BotAgent, ConversationType: botrelay.Messaging, Vendor: "function", Started: true,
		Settings: botrelay.BotSettings{
			Vendor: vendor,
			ErrorHandling: botrelay.ErrorHandling{
				EscalationSkill:        botrelay.SkillNameHuman,
				MessageToConsumer:      "Something went wrong on my side; let me get you a human agent.",
				MessageToAgent:         "The demo bot escalated this conversation after an error.",
				TransferFailureMessage: "Sorry, no agent can take this conversation right now. Please try again later.",
			},
		}}
	sealed, err := relay.SealSecrets(m.box, bot, &relay.Secrets{APIKey: relay.Credentials{AppKey: keys.AppKey,
		Secret: keys.Secret, AccessToken: keys.AccessToken, AccessTokenSecret: keys.AccessTokenSecret}})
	if err != nil {
		return err
	}
	bot.Secrets = sealed
	if err := m.store.CreateBot(ctx, bot); err != nil {
		return fmt.Errorf("demo bot: %w", err)
	}
	m.log.Info("seeded the demo bot", "bot_id", string(bot.ID), "user", user.LoginName)
	return nil
}
