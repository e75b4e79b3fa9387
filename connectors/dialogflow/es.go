package dialogflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"

	dialogflow "cloud.google.com/go/dialogflow/apiv2"
	"cloud.google.com/go/dialogflow/apiv2/dialogflowpb"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
	"google.golang.org/protobuf/encoding/protojson"
)

// ESVendorID is the Dialogflow ES connector's id.
const ESVendorID = "dialogflow_es"

// Error codes of the ES connector (without botrelay.ErrorCodePrefix).
// Appendix A names only the first; the others follow its pattern and the CX
// codes.
const (
	CodeESSendQuery      = "aivendor.dialogflowv2.send-query"
	CodeESTestConnection = "aivendor.dialogflowv2.test-connection"
	CodeESParseError     = "aivendor.dialogflowv2.parse-message.parser-error"
)

// errorCodes are the codes above, as docs/vendors/dialogflow.md lists them.
var errorCodesES = botrelay.VendorErrors{Timeout: CodeESSendQuery, Codes: []string{
	CodeESSendQuery, CodeESTestConnection, CodeESParseError}}

// ESConnector is the dialogflow_es VendorConnector. The zero value is ready
// to use and safe for concurrent use.
type ESConnector struct{}

var _ botrelay.VendorConnector = ESConnector{}

// Info implements botrelay.VendorConnector.
func (ESConnector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: ESVendorID, DisplayName: "Google Dialogflow ES", Secrets: secretKeys,
		Endpoint: []string{"serviceLocation", "projectId", "location", "environment"}, Errors: errorCodesES, Fields: esFields}
}

// ESConfig is a bot's dialogflow_es settings. Unknown keys are refused.
type ESConfig struct {
	// LanguageCode is the query language, e.g. "en-US". Required.
	LanguageCode string `json:"languageCode"`
	// ProjectID is the agent's Google Cloud project. Required unless the
	// service-account key names it.
	ProjectID string `json:"projectId,omitempty"`
	// Location is the agent's region (e.g. "europe-west1") for regional
	// agents; empty or "global" for the global agent.
	Location string `json:"location,omitempty"`
	// Environment is an agent environment id; empty talks to the draft.
	Environment string `json:"environment,omitempty"`
	Credentials
}

// Validate fills defaults and checks the settings; errors are EINVALID and
// name the setting.
func (c *ESConfig) Validate() (serviceAccount, error) {
	sa, err := c.checkAgent(&c.LanguageCode, &c.ProjectID)
	if err != nil {
		return sa, err
	}
	c.Location = strings.TrimSpace(c.Location)
	if err := checkSegment("location", c.Location, false); err != nil {
		return sa, err
	}
	c.Environment = strings.TrimSpace(c.Environment)
	if err := checkSegment("environment", c.Environment, false); err != nil {
		return sa, err
	}
	return sa, nil
}

// parent is the agent's parent resource: projects/{p}[/locations/{l}].
func (c *ESConfig) parent() string {
	s := "projects/" + c.ProjectID
	if c.Location != "" && c.Location != "global" {
		s += "/locations/" + c.Location
	}
	return s
}

// SessionPath is the session of a conversation.
func (c *ESConfig) SessionPath(conv botrelay.ConversationID) string {
	s := c.parent() + "/agent"
	if c.Environment != "" {
		s += "/environments/" + c.Environment + "/users/-"
	}
	return s + "/sessions/" + sessionID(conv)
}

func (c *ESConfig) defaultHost() string {
	if c.Location != "" && c.Location != "global" {
		return c.Location + "-dialogflow.googleapis.com"
	}
	return "dialogflow.googleapis.com"
}

// NewBot implements botrelay.VendorConnector. It validates cfg and makes the
// gRPC clients, which connect on first use.
func (ESConnector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c ESConfig
	sa, opts, err := prepare(cfg, &c, ESVendorID)
	if err != nil {
		return nil, err
	}
	sessions, agents, err := twoClients(context.Background(), opts, ESVendorID, dialogflow.NewSessionsClient, dialogflow.NewAgentsClient)
	if err != nil {
		return nil, err
	}
	// The relay retries (F42); the client must not retry on top.
	sessions.CallOptions.DetectIntent = nil
	agents.CallOptions.GetAgent = nil
	return &ESBot{cfg: c, email: sa.ClientEmail, sessions: sessions, agents: agents, log: env.WithDefaults(ESVendorID).Logger}, nil
}

// ESBot is one dialogflow_es bot. It implements botrelay.HealthChecker and
// io.Closer.
type ESBot struct {
	cfg      ESConfig
	email    string
	sessions *dialogflow.SessionsClient
	agents   *dialogflow.AgentsClient
	log      *slog.Logger
}

// Interface guards.
var (
	_ botrelay.HealthChecker = (*ESBot)(nil)
	_ io.Closer              = (*ESBot)(nil)
	_ botrelay.HookableBot   = (*ESBot)(nil)
)

// Close releases the gRPC connections.
func (b *ESBot) Close() error { return errors.Join(b.sessions.Close(), b.agents.Close()) }

// CheckHealth is the connection test: GetAgent on the project's agent.
func (b *ESBot) CheckHealth(ctx context.Context) error {
	parent := b.cfg.parent()
	what := "connection test (GetAgent " + parent + "/agent as " + b.email + ")"
	agent, err := b.agents.GetAgent(ctx, &dialogflowpb.GetAgentRequest{Parent: parent})
	if err != nil {
		return callError(ctx, CodeESTestConnection, what, err)
	}
	if agent.GetParent() == "" && agent.GetDisplayName() == "" {
		return botrelay.NewVendorError(botrelay.ErrVendorBadReply, CodeESTestConnection, "%s: the answer holds no agent", what)
	}
	return nil
}

// Converse implements botrelay.VendorBot: one DetectIntent call.
func (b *ESBot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names (F36).
func (b *ESBot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "DialogflowV2", RequestKey: "dfV2request", ResponseKey: "dialogflowv2"}
}

// BuildRequest implements botrelay.HookableBot: the DetectIntentRequest in
// its JSON form (the REST API's, which hooks see and may rewrite).
func (b *ESBot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	q, err := buildQuery(t, ESCharLimit, CodeESSendQuery)
	if err != nil {
		return nil, err
	}
	req := &dialogflowpb.DetectIntentRequest{
		Session:     b.cfg.SessionPath(t.Conversation.ID),
		QueryParams: &dialogflowpb.QueryParameters{Payload: q.payload},
	}
	if q.event != "" {
		req.QueryInput = &dialogflowpb.QueryInput{Input: &dialogflowpb.QueryInput_Event{Event: &dialogflowpb.EventInput{Name: q.event, LanguageCode: b.cfg.LanguageCode}}}
	} else {
		req.QueryInput = &dialogflowpb.QueryInput{Input: &dialogflowpb.QueryInput_Text{Text: &dialogflowpb.TextInput{Text: q.text, LanguageCode: b.cfg.LanguageCode}}}
	}
	out, err := protojson.Marshal(req)
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, CodeESSendQuery, "encode the DetectIntent request: %v", err)
	}
	return out, nil
}

// Exchange implements botrelay.HookableBot: DetectIntent with req (JSON),
// the response in JSON. Dialogflow keeps the session: no vendor state.
func (b *ESBot) Exchange(ctx context.Context, t *botrelay.Turn, raw json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	out, err := detectIntent(ctx, raw, &dialogflowpb.DetectIntentRequest{}, CodeESSendQuery, b.sessions.DetectIntent)
	return out, nil, err
}

// ParseResponse implements botrelay.HookableBot.
func (b *ESBot) ParseResponse(ctx context.Context, t *botrelay.Turn, raw json.RawMessage) (*botrelay.Reply, error) {
	res := &dialogflowpb.DetectIntentResponse{}
	if err := decodeResponse(raw, res, CodeESParseError); err != nil {
		return nil, err
	}
	p, err := parseES(res, t.Conversation.SkillName)
	if err != nil {
		return nil, err
	}
	logIgnored(ctx, b.log, t, p)
	return &p.reply, nil
}

// ParseES maps a DetectIntent response to a Reply (exported through the
// parser for the golden tests).
func parseES(res *dialogflowpb.DetectIntentResponse, skill string) (*parser, error) {
	p := &parser{code: CodeESParseError, skill: skill}
	qr := res.GetQueryResult()
	if qr == nil {
		return nil, p.bad("the response has no queryResult")
	}
	msgs := qr.GetFulfillmentMessages()
	var def []*dialogflowpb.Intent_Message
	for _, m := range msgs {
		if m.GetPlatform() == dialogflowpb.Intent_Message_PLATFORM_UNSPECIFIED {
			def = append(def, m)
		}
	}
	if len(def) > 0 {
		msgs = def
	}
	for i, m := range msgs {
		where := "fulfillmentMessages[" + itoa(i) + "]"
		switch x := m.GetMessage().(type) {
		case *dialogflowpb.Intent_Message_Text_:
			for _, s := range x.Text.GetText() {
				p.text(s)
			}
		case *dialogflowpb.Intent_Message_Payload:
			if err := p.payload(where+".payload", x.Payload, false); err != nil {
				return nil, err
			}
		case *dialogflowpb.Intent_Message_QuickReplies_:
			if err := p.quickReplies(where, x.QuickReplies); err != nil {
				return nil, err
			}
		case *dialogflowpb.Intent_Message_Card_:
			p.card(x.Card)
		case *dialogflowpb.Intent_Message_Image_:
			if u := x.Image.GetImageUri(); u != "" {
				p.message(&botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical", "elements": []any{image(u, x.Image.GetAccessibilityText())}})})
			}
		default:
			p.ignored = append(p.ignored, where+" (unsupported message type)")
		}
	}
	if len(msgs) == 0 && strings.TrimSpace(qr.GetFulfillmentText()) != "" {
		p.text(qr.GetFulfillmentText())
	}
	if name := qr.GetAction(); upperName.MatchString(name) {
		if err := p.action("queryResult.action", name, qr.GetParameters().AsMap()); err != nil {
			return nil, err
		}
	}
	if in := qr.GetIntent(); in != nil {
		p.intent(in.GetName(), in.GetDisplayName(), qr.GetIntentDetectionConfidence())
	}
	return p, nil
}

// quickReplies maps Dialogflow's quick replies to a text with LivePerson
// quick replies (F19); each reply publishes its own title.
func (p *parser) quickReplies(where string, q *dialogflowpb.Intent_Message_QuickReplies) error {
	if strings.TrimSpace(q.GetTitle()) == "" {
		return p.bad("%s.quickReplies.title is required (it is the message sent with the quick replies)", where)
	}
	var replies []any
	for _, r := range q.GetQuickReplies() {
		if strings.TrimSpace(r) == "" {
			continue
		}
		replies = append(replies, map[string]any{"type": "button", "title": r, "tooltip": r,
			"click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": r}}}})
	}
	if len(replies) == 0 {
		p.text(q.GetTitle())
		return nil
	}
	p.message(&botrelay.Message{Text: q.GetTitle(), QuickReplies: mustJSON(map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": replies})})
	return nil
}

// card maps a Dialogflow card to vertical structured content: image, bold
// title, subtitle, then one button per card button (an http(s) postback is
// a link, any other publishes the postback or the button text).
func (p *parser) card(c *dialogflowpb.Intent_Message_Card) {
	var els []any
	if u := c.GetImageUri(); u != "" {
		els = append(els, image(u, c.GetTitle()))
	}
	if t := c.GetTitle(); t != "" {
		els = append(els, map[string]any{"type": "text", "text": t, "style": map[string]any{"bold": true}})
	}
	if t := c.GetSubtitle(); t != "" {
		els = append(els, map[string]any{"type": "text", "text": t})
	}
	for _, btn := range c.GetButtons() {
		title, post := btn.GetText(), btn.GetPostback()
		var act map[string]any
		if u, err := url.Parse(post); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			act = map[string]any{"type": "link", "name": title, "uri": post}
		} else {
			act = map[string]any{"type": "publishText", "text": orDefault(post, title)}
		}
		els = append(els, map[string]any{"type": "button", "title": title, "click": map[string]any{"actions": []any{act}}})
	}
	if len(els) == 0 {
		return
	}
	p.message(&botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical", "elements": els})})
}

func image(u, tooltip string) map[string]any {
	m := map[string]any{"type": "image", "url": u}
	if tooltip != "" {
		m["tooltip"] = tooltip
	}
	return m
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
