package app

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/provision"
)

//go:embed demo.js
var demoBotCode string

// seedDemoBot creates and starts the demo bot of DESIGN.md on the first
// start: a function bot on skill bot, bound to its own bot user whose API
// key set the connector keeps sealed (provision.AddBot), that escalates
// to skill human.
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
	vendor, err := json.Marshal(map[string]any{"code": demoBotCode})
	if err != nil {
		return err
	}
	bot := &botrelay.Bot{AccountID: m.account, Name: "Demo bot", UserID: user.ID,
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
	prov := provision.New(provision.Options{Store: m.store, Box: m.box, Registry: m.Registry, Account: m.account, Logger: m.log})
	if err := prov.AddBot(ctx, bot, nil, "demo bot"); err != nil {
		return fmt.Errorf("demo bot: %w", err)
	}
	m.log.Info("seeded the demo bot", "bot_id", string(bot.ID), "user", user.LoginName)
	return nil
}
