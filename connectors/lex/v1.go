package lex

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// BotV1 is one lex_v1 bot. It implements botrelay.HealthChecker and is safe
// for concurrent use.
type BotV1 struct {
	*client
	cfg ConfigV1
}

var _ botrelay.HealthChecker = (*BotV1)(nil)

// PostTextRequest is the body of PostText.
type PostTextRequest struct {
	InputText         string            `json:"inputText"`
	SessionAttributes map[string]string `json:"sessionAttributes,omitempty"`
	RequestAttributes map[string]string `json:"requestAttributes,omitempty"`
}

// PostTextResponse holds the PostText fields botrelay reads.
type PostTextResponse struct {
	IntentName          string `json:"intentName"`
	NLUIntentConfidence *struct {
		Score float64 `json:"score"`
	} `json:"nluIntentConfidence"`
	SessionAttributes map[string]string `json:"sessionAttributes"`
	Message           *string           `json:"message"`
	MessageFormat     string            `json:"messageFormat"`
	DialogState       string            `json:"dialogState"`
	SlotToElicit      string            `json:"slotToElicit"`
	ResponseCard      *struct {
		ContentType        string `json:"contentType"`
		GenericAttachments []card `json:"genericAttachments"`
	} `json:"responseCard"`
	SessionID string `json:"sessionId"`
}

func (b *BotV1) userPath(user string) string {
	return buildPath("bot", b.cfg.BotName, "alias", b.cfg.BotAlias, "user", user)
}

func (b *BotV1) target() string {
	return fmt.Sprintf("bot %q alias %q in %s", b.cfg.BotName, b.cfg.BotAlias, b.cfg.Region)
}

// Converse implements botrelay.VendorBot: one PostText.
func (b *BotV1) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.client.settings.SecretAccessKey, b.client.settings.SessionToken)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names for Lex.
func (b *BotV1) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "Lex", RequestKey: "lexQuery", ResponseKey: "lex"}
}

// BuildRequest implements botrelay.HookableBot: the PostText body.
func (b *BotV1) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	text, err := inputText(t)
	if err != nil {
		return nil, err
	}
	req := PostTextRequest{
		InputText:         text,
		SessionAttributes: sessionAttributes(t),
		RequestAttributes: map[string]string{ContextAttribute: lpContext(t)},
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "encode PostText: %v", err)
	}
	return body, nil
}

// Exchange implements botrelay.HookableBot: it signs and sends the body.
// The session attributes come back in the response, so the vendor state
// is the parser's.
func (b *BotV1) Exchange(ctx context.Context, t *botrelay.Turn, body json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	res, err := b.do(ctx, CodeSendQuery, "PostText to "+b.target(), http.MethodPost, b.userPath(SessionID(string(t.Conversation.ID)))+"/text", body)
	if err != nil {
		return nil, nil, err
	}
	return res.body, nil, nil
}

// ParseResponse implements botrelay.HookableBot.
func (b *BotV1) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	return parseV1(resp, t.Conversation.Type)
}

// parseV1 maps a PostText response.
func parseV1(body []byte, convType botrelay.ConversationType) (*botrelay.Reply, error) {
	var r PostTextResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "the PostText response is not the documented JSON: %s", jsonProblem(err))
	}
	if r.DialogState == "Failed" {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendQuery, "the Lex dialog failed (dialogState Failed, intent %q): Lex reached its maximum retries", r.IntentName)
	}
	b := &builder{convType: convType}
	if r.Message != nil {
		switch r.MessageFormat {
		case FormatComposite:
			if err := b.composite(*r.Message); err != nil {
				return nil, err
			}
		default:
			if err := b.message("message", r.MessageFormat, *r.Message); err != nil {
				return nil, err
			}
		}
	}
	if r.ResponseCard != nil {
		b.cards(r.ResponseCard.GenericAttachments)
	}
	if r.IntentName != "" {
		in := botrelay.Intent{ID: r.IntentName, Name: r.IntentName}
		if r.NLUIntentConfidence != nil {
			in.Confidence = r.NLUIntentConfidence.Score
		}
		b.reply.Intents = []botrelay.Intent{in}
	}
	b.reply.VendorState = encodeState(r.SessionAttributes)
	return &b.reply, nil
}

// CheckHealth implements botrelay.HealthChecker: GetSession of the
// health-check user, which proves the credentials, the IAM permission on the
// bot and the bot alias without running the bot.
func (b *BotV1) CheckHealth(ctx context.Context) error {
	what := "connection test (GetSession of " + b.target() + ")"
	res, err := b.do(ctx, CodeTestConnection, what, http.MethodGet, b.userPath(HealthCheckSession)+"/session", nil, http.StatusNotFound, http.StatusBadRequest)
	if err != nil {
		return err
	}
	if kit.Classify(res.status) == kit.Success || isSessionNotFound(res) {
		return nil
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "%s: %s; check botName, botAlias and region", what, b.describe(res))
}
