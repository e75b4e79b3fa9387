package lex

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// BotV2 is one lex_v2 bot. It implements botrelay.HealthChecker and
// botrelay.Ender and is safe for concurrent use.
type BotV2 struct {
	*client
	cfg ConfigV2
}

var (
	_ botrelay.HealthChecker = (*BotV2)(nil)
	_ botrelay.Ender         = (*BotV2)(nil)
)

// RecognizeTextRequest is the body of RecognizeText.
type RecognizeTextRequest struct {
	Text              string            `json:"text"`
	SessionState      *SessionStateIn   `json:"sessionState,omitempty"`
	RequestAttributes map[string]string `json:"requestAttributes,omitempty"`
}

// SessionStateIn is the part of the session state botrelay sends: only the
// session attributes, so Lex keeps its own dialog state.
type SessionStateIn struct {
	SessionAttributes map[string]string `json:"sessionAttributes"`
}

// RecognizeTextResponse holds the RecognizeText fields botrelay reads.
type RecognizeTextResponse struct {
	Messages []struct {
		Content           *string `json:"content"`
		ContentType       string  `json:"contentType"`
		ImageResponseCard *card   `json:"imageResponseCard"`
	} `json:"messages"`
	SessionState *struct {
		DialogAction *struct {
			Type string `json:"type"`
		} `json:"dialogAction"`
		Intent *struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"intent"`
		SessionAttributes map[string]string `json:"sessionAttributes"`
	} `json:"sessionState"`
	Interpretations []struct {
		Intent *struct {
			Name string `json:"name"`
		} `json:"intent"`
		NLUConfidence *struct {
			Score float64 `json:"score"`
		} `json:"nluConfidence"`
	} `json:"interpretations"`
	SessionID string `json:"sessionId"`
}

func (b *BotV2) sessionPath(session string) string {
	return buildPath("bots", b.cfg.BotID, "botAliases", b.cfg.BotAliasID, "botLocales", b.cfg.LocaleID, "sessions", session)
}

func (b *BotV2) target() string {
	return fmt.Sprintf("bot %s alias %s locale %s in %s", b.cfg.BotID, b.cfg.BotAliasID, b.cfg.LocaleID, b.cfg.Region)
}

// Converse implements botrelay.VendorBot: one RecognizeText.
func (b *BotV2) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.client.settings.SecretAccessKey, b.client.settings.SessionToken)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names for Lex.
func (b *BotV2) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "Lex", RequestKey: "lexQuery", ResponseKey: "lex"}
}

// BuildRequest implements botrelay.HookableBot: the RecognizeText body.
func (b *BotV2) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	text, err := inputText(t)
	if err != nil {
		return nil, err
	}
	req := RecognizeTextRequest{
		Text:              text,
		SessionState:      &SessionStateIn{SessionAttributes: sessionAttributes(t)},
		RequestAttributes: map[string]string{ContextAttribute: lpContext(t)},
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "encode RecognizeText: %v", err)
	}
	return body, nil
}

// Exchange implements botrelay.HookableBot: it signs and sends the body.
// The session attributes come back in the response, so the vendor state
// is the parser's.
func (b *BotV2) Exchange(ctx context.Context, t *botrelay.Turn, body json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	res, err := b.do(ctx, CodeSendQuery, "RecognizeText to "+b.target(), http.MethodPost, b.sessionPath(SessionID(string(t.Conversation.ID)))+"/text", body)
	if err != nil {
		return nil, nil, err
	}
	return res.body, nil, nil
}

// ParseResponse implements botrelay.HookableBot.
func (b *BotV2) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	return parseV2(resp, t.Conversation.Type)
}

// parseV2 maps a RecognizeText response.
func parseV2(body []byte, convType botrelay.ConversationType) (*botrelay.Reply, error) {
	var r RecognizeTextResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "the RecognizeText response is not the documented JSON: %s", jsonProblem(err))
	}
	var intent string
	var attrs map[string]string
	if s := r.SessionState; s != nil {
		attrs = s.SessionAttributes
		if s.Intent != nil {
			intent = s.Intent.Name
			if s.Intent.State == "Failed" {
				return nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendQuery, "the Lex dialog failed (intent %q state Failed): Lex reached its maximum retries or fulfilment failed", intent)
			}
		}
	}
	b := &builder{convType: convType}
	for i, m := range r.Messages {
		where := "messages[" + strconv.Itoa(i) + "]"
		if m.ContentType == FormatImageCard {
			if m.ImageResponseCard == nil {
				return nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "%s is an ImageResponseCard without imageResponseCard", where)
			}
			b.cards([]card{*m.ImageResponseCard})
			continue
		}
		content := ""
		if m.Content != nil {
			content = *m.Content
		}
		if err := b.message(where, m.ContentType, content); err != nil {
			return nil, err
		}
	}
	if intent != "" {
		in := botrelay.Intent{ID: intent, Name: intent}
		for _, it := range r.Interpretations {
			if it.Intent != nil && it.Intent.Name == intent && it.NLUConfidence != nil {
				in.Confidence = it.NLUConfidence.Score
				break
			}
		}
		b.reply.Intents = []botrelay.Intent{in}
	}
	b.reply.VendorState = encodeState(attrs)
	return &b.reply, nil
}

// CheckHealth implements botrelay.HealthChecker: GetSession of the
// health-check session, which proves the credentials, the IAM permission on
// the bot alias and the bot without running it.
func (b *BotV2) CheckHealth(ctx context.Context) error {
	what := "connection test (GetSession of " + b.target() + ")"
	res, err := b.do(ctx, CodeTestConnection, what, http.MethodGet, b.sessionPath(HealthCheckSession), nil, http.StatusNotFound, http.StatusBadRequest)
	if err != nil {
		return err
	}
	if kit.Classify(res.status) == kit.Success || isSessionNotFound(res) {
		return nil
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "%s: %s; check botId, botAliasId, localeId and region", what, b.describe(res))
}

// EndConversation implements botrelay.Ender: DeleteSession. A session Lex
// no longer has is not an error.
func (b *BotV2) EndConversation(ctx context.Context, conv botrelay.ConversationRef, _ json.RawMessage) error {
	_, err := b.do(ctx, CodeSendQuery, "DeleteSession at "+b.target(), http.MethodDelete, b.sessionPath(SessionID(string(conv.ID))), nil, http.StatusNotFound)
	return err
}
