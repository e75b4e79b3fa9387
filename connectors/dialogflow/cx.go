package dialogflow

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"

	cx "cloud.google.com/go/dialogflow/cx/apiv3"
	"cloud.google.com/go/dialogflow/cx/apiv3/cxpb"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
	"google.golang.org/protobuf/encoding/protojson"
)

// CXVendorID is the Dialogflow CX connector's id.
const CXVendorID = "dialogflow_cx"

// Error codes of the CX connector (Appendix A, without
// botrelay.ErrorCodePrefix).
const (
	CodeCXSendRequest     = "aivendor.dialogflowcx.send-request"
	CodeCXTestConnection  = "aivendor.dialogflowcx.test-connection"
	CodeCXParseError      = "aivendor.dialogflowcx.parse-message.parser-error"
	CodeCXMultipleActions = "aivendor.dialogflowcx.parse-message.multiple-actions"
)

// errorCodes are the codes above, as docs/vendors/dialogflow.md lists them.
var errorCodesCX = botrelay.VendorErrors{Timeout: CodeCXSendRequest, Codes: []string{
	CodeCXSendRequest, CodeCXTestConnection, CodeCXParseError, CodeCXMultipleActions}}

// CXConnector is the dialogflow_cx VendorConnector. The zero value is ready
// to use and safe for concurrent use.
type CXConnector struct{}

var _ botrelay.VendorConnector = CXConnector{}

// Info implements botrelay.VendorConnector.
func (CXConnector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: CXVendorID, DisplayName: "Google Dialogflow CX", Secrets: secretKeys,
		Endpoint: []string{"serviceLocation", "projectId", "location", "agentId", "environmentId"}, Errors: errorCodesCX, Fields: cxFields}
}

// CXConfig is a bot's dialogflow_cx settings. Unknown keys are refused.
type CXConfig struct {
	// LanguageCode is the query language, e.g. "en". Required.
	LanguageCode string `json:"languageCode"`
	// ProjectID is the agent's Google Cloud project. Required unless the
	// service-account key names it.
	ProjectID string `json:"projectId,omitempty"`
	// Location is the agent's region, e.g. "us-central1" or "global".
	// Required.
	Location string `json:"location"`
	// AgentID is the last segment of projects/…/agents/{agent}. Required.
	AgentID string `json:"agentId"`
	// EnvironmentID is an environment id; empty talks to the draft flow.
	EnvironmentID string `json:"environmentId,omitempty"`
	Credentials
}

// Validate fills defaults and checks the settings; errors are EINVALID and
// name the setting.
func (c *CXConfig) Validate() (serviceAccount, error) {
	sa, err := c.checkAgent(&c.LanguageCode, &c.ProjectID)
	if err != nil {
		return sa, err
	}
	c.Location = strings.TrimSpace(c.Location)
	if err := checkSegment("location", c.Location, true); err != nil {
		return sa, err
	}
	c.AgentID = strings.TrimSpace(c.AgentID)
	if err := checkSegment("agentId", c.AgentID, true); err != nil {
		return sa, err
	}
	c.EnvironmentID = strings.TrimSpace(c.EnvironmentID)
	if err := checkSegment("environmentId", c.EnvironmentID, false); err != nil {
		return sa, err
	}
	return sa, nil
}

// AgentPath is projects/{p}/locations/{l}/agents/{a}.
func (c *CXConfig) AgentPath() string {
	return "projects/" + c.ProjectID + "/locations/" + c.Location + "/agents/" + c.AgentID
}

// SessionPath is the session of a conversation.
func (c *CXConfig) SessionPath(conv botrelay.ConversationID) string {
	s := c.AgentPath()
	if c.EnvironmentID != "" {
		s += "/environments/" + c.EnvironmentID
	}
	return s + "/sessions/" + sessionID(conv)
}

func (c *CXConfig) defaultHost() string {
	if c.Location == "global" {
		return "dialogflow.googleapis.com"
	}
	return c.Location + "-dialogflow.googleapis.com"
}

// NewBot implements botrelay.VendorConnector. It validates cfg and makes the
// gRPC clients, which connect on first use.
func (CXConnector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c CXConfig
	sa, opts, err := prepare(cfg, &c, CXVendorID)
	if err != nil {
		return nil, err
	}
	sessions, agents, err := twoClients(context.Background(), opts, CXVendorID, cx.NewSessionsClient, cx.NewAgentsClient)
	if err != nil {
		return nil, err
	}
	// The relay retries (F42); the client must not retry on top.
	sessions.CallOptions.DetectIntent = nil
	agents.CallOptions.GetAgent = nil
	return &CXBot{cfg: c, email: sa.ClientEmail, sessions: sessions, agents: agents, log: env.WithDefaults(CXVendorID).Logger}, nil
}

// CXBot is one dialogflow_cx bot. It implements botrelay.HealthChecker and
// io.Closer.
type CXBot struct {
	cfg      CXConfig
	email    string
	sessions *cx.SessionsClient
	agents   *cx.AgentsClient
	log      *slog.Logger
}

// Interface guards.
var (
	_ botrelay.HealthChecker = (*CXBot)(nil)
	_ io.Closer              = (*CXBot)(nil)
	_ botrelay.HookableBot   = (*CXBot)(nil)
)

// Close releases the gRPC connections.
func (b *CXBot) Close() error { return errors.Join(b.sessions.Close(), b.agents.Close()) }

// CheckHealth is the connection test: GetAgent on the configured agent.
func (b *CXBot) CheckHealth(ctx context.Context) error {
	name := b.cfg.AgentPath()
	what := "connection test (GetAgent " + name + " as " + b.email + ")"
	agent, err := b.agents.GetAgent(ctx, &cxpb.GetAgentRequest{Name: name})
	if err != nil {
		return callError(ctx, CodeCXTestConnection, what, err)
	}
	if agent.GetName() == "" && agent.GetDisplayName() == "" {
		return botrelay.NewVendorError(botrelay.ErrVendorBadReply, CodeCXTestConnection, "%s: the answer holds no agent", what)
	}
	return nil
}

// Converse implements botrelay.VendorBot: one DetectIntent call.
func (b *CXBot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names (F36).
func (b *CXBot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "DialogflowCX", RequestKey: "dfCxrequest", ResponseKey: "dialogflowcx"}
}

// BuildRequest implements botrelay.HookableBot: the DetectIntentRequest in
// its JSON form (the REST API's, which hooks see and may rewrite).
func (b *CXBot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	q, err := buildQuery(t, CXCharLimit, CodeCXSendRequest)
	if err != nil {
		return nil, err
	}
	req := &cxpb.DetectIntentRequest{
		Session:     b.cfg.SessionPath(t.Conversation.ID),
		QueryParams: &cxpb.QueryParameters{Payload: q.payload},
		QueryInput:  &cxpb.QueryInput{LanguageCode: b.cfg.LanguageCode},
	}
	if q.event != "" {
		req.QueryInput.Input = &cxpb.QueryInput_Event{Event: &cxpb.EventInput{Event: q.event}}
	} else {
		req.QueryInput.Input = &cxpb.QueryInput_Text{Text: &cxpb.TextInput{Text: q.text}}
	}
	out, err := protojson.Marshal(req)
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, CodeCXSendRequest, "encode the DetectIntent request: %v", err)
	}
	return out, nil
}

// Exchange implements botrelay.HookableBot: DetectIntent with req (JSON),
// the response in JSON. Dialogflow keeps the session: no vendor state.
func (b *CXBot) Exchange(ctx context.Context, t *botrelay.Turn, raw json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	out, err := detectIntent(ctx, raw, &cxpb.DetectIntentRequest{}, CodeCXSendRequest, b.sessions.DetectIntent)
	return out, nil, err
}

// ParseResponse implements botrelay.HookableBot.
func (b *CXBot) ParseResponse(ctx context.Context, t *botrelay.Turn, raw json.RawMessage) (*botrelay.Reply, error) {
	res := &cxpb.DetectIntentResponse{}
	if err := decodeResponse(raw, res, CodeCXParseError); err != nil {
		return nil, err
	}
	p, err := parseCX(res, t.Conversation.SkillName)
	if err != nil {
		return nil, err
	}
	logIgnored(ctx, b.log, t, p)
	return &p.reply, nil
}

// parseCX maps a DetectIntent response to a Reply.
func parseCX(res *cxpb.DetectIntentResponse, skill string) (*parser, error) {
	p := &parser{code: CodeCXParseError, skill: skill}
	qr := res.GetQueryResult()
	if qr == nil {
		return nil, p.bad("the response has no queryResult")
	}
	for i, m := range qr.GetResponseMessages() {
		where := "responseMessages[" + itoa(i) + "]"
		switch x := m.GetMessage().(type) {
		case *cxpb.ResponseMessage_Text_:
			for _, s := range x.Text.GetText() {
				p.text(s)
			}
		case *cxpb.ResponseMessage_Payload:
			if err := p.payload(where+".payload", x.Payload, true); err != nil {
				return nil, err
			}
		case *cxpb.ResponseMessage_LiveAgentHandoff_:
			meta := x.LiveAgentHandoff.GetMetadata().AsMap()
			if s, _ := str(meta["skill"]); s != "" {
				if err := p.action(where+".liveAgentHandoff", ActionTransfer, meta); err != nil {
					return nil, err
				}
			} else {
				p.actions++
				p.reply.Skipped = append(p.reply.Skipped, "liveAgentHandoff")
			}
		default:
			// endInteraction, conversationSuccess and the voice messages
			// have no chat meaning (package doc).
		}
	}
	if p.actions > 1 {
		return nil, botrelay.NewVendorError(botrelay.ErrVendorBadReply, CodeCXMultipleActions, "the reply holds %d actions; one action per reply is supported", p.actions)
	}
	in, conf := qr.GetMatch().GetIntent(), qr.GetMatch().GetConfidence()
	if in == nil {
		// Older agents fill only the deprecated fields.
		//lint:ignore SA1019 the fallback for agents that fill only the deprecated fields
		in, conf = qr.GetIntent(), qr.GetIntentDetectionConfidence()
	}
	if in != nil {
		p.intent(in.GetName(), in.GetDisplayName(), conf)
	}
	return p, nil
}
