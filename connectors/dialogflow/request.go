package dialogflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"unicode/utf8"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// Event names sent instead of text.
const (
	EventWelcome   = "WELCOME"
	EventCharLimit = "DIALOGFLOW_CHAR_LIMIT"
)

// Query length limits (F6): longer texts are sent as EventCharLimit.
const (
	ESCharLimit = 256
	CXCharLimit = 255
)

// query is what a turn sends: text or an event, and the payload.
type query struct {
	text    string
	event   string
	payload *structpb.Struct
}

// buildQuery maps a turn to its query. limit is the vendor's length limit in
// characters; codeSend is the connector's send error code.
func buildQuery(t *botrelay.Turn, limit int, codeSend string) (*query, error) {
	add := map[string]any{}
	if len(t.Metadata) > 0 && !isNull(t.Metadata) {
		add["metadata"] = t.Metadata
	}
	if t.Conversation.ID == "" {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, codeSend, "the turn has no conversation id (the Dialogflow session)")
	}
	q := &query{}
	switch t.Kind {
	case botrelay.TurnText:
		q.text = t.Text
	case botrelay.TurnRichContent:
		q.text = orDefault(t.Text, botrelay.EventConsumerRichContent)
	case botrelay.TurnFile:
		q.text = orDefault(t.Text, botrelay.EventConsumerFile)
	case botrelay.TurnStart:
		q.event = EventWelcome
		add["contentType"] = "welcome"
		add["content"] = "welcome"
		if t.LastConsumerMessage != "" {
			add["lastConsumerMessage"] = t.LastConsumerMessage
		}
	default:
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, codeSend, "Dialogflow has no query for a %s turn", t.Kind)
	}
	if q.event == "" && utf8.RuneCountInString(q.text) > limit {
		q.text, q.event = "", EventCharLimit
	}
	lp, err := objectWith(t.LPEvent, add)
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, codeSend, "lpEvent: %v", err)
	}
	sdes := map[string]any{}
	if !isNull(t.SDEs) {
		if err := json.Unmarshal(t.SDEs, &sdes); err != nil || sdes == nil {
			sdes = map[string]any{}
		}
	}
	q.payload, err = structpb.NewStruct(map[string]any{"lpEvent": lp, "lpSdes": sdes})
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrUnsupported, codeSend, "encode the payload: %v", err)
	}
	return q, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

// objectWith decodes the JSON object raw ({} when absent) and adds the
// members of add it lacks.
func objectWith(raw json.RawMessage, add map[string]any) (map[string]any, error) {
	m := map[string]any{}
	if !isNull(raw) {
		d := json.NewDecoder(bytes.NewReader(raw))
		if err := d.Decode(&m); err != nil || m == nil {
			return nil, errors.New("the platform event is not a JSON object")
		}
	}
	for k, v := range add {
		if _, ok := m[k]; ok {
			continue
		}
		if r, ok := v.(json.RawMessage); ok {
			var x any
			if json.Unmarshal(r, &x) != nil {
				continue
			}
			v = x
		}
		m[k] = v
	}
	return m, nil
}

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,36}$`)

// sessionID is the conversation id if Dialogflow accepts it as a session
// id, else a stable digest of it.
func sessionID(conv botrelay.ConversationID) string {
	s := string(conv)
	if sessionIDPattern.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:36]
}

// callError classifies a failed gRPC call. what names the call and its
// target; the message holds the gRPC code and Google's message, never a
// credential.
func callError(ctx context.Context, code, what string, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return botrelay.NewVendorError(botrelay.ErrVendorUnavailable, code, "%s: no answer in time (%v)", what, err)
	}
	st, _ := status.FromError(err)
	var class error
	var reason string
	switch st.Code() {
	case codes.Unauthenticated:
		class, reason = botrelay.ErrVendorAuth, "the service-account credentials were refused"
	case codes.PermissionDenied:
		class, reason = botrelay.ErrVendorAuth, "the service account lacks permission"
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unknown, codes.Aborted, codes.Canceled:
		class, reason = botrelay.ErrVendorUnavailable, "Dialogflow is unavailable"
	case codes.NotFound:
		class, reason = botrelay.ErrVendorBadReply, "not found (check projectId, location, agent and environment)"
	default:
		class, reason = botrelay.ErrVendorBadReply, "the request was refused"
	}
	return botrelay.NewVendorError(class, code, "%s: %s: %s%s", what, reason, st.Code(), kit.Quote(st.Message()))
}

// detectRequest is an ES or CX DetectIntentRequest.
type detectRequest interface {
	proto.Message
	GetSession() string
}

// detectIntent decodes raw (a DetectIntentRequest in JSON, as the pre-hook
// answered it) into req, calls DetectIntent and answers the response in
// JSON, for the post-hook.
func detectIntent[Req detectRequest, Resp proto.Message](ctx context.Context, raw json.RawMessage, req Req, code string,
	call func(context.Context, Req, ...gax.CallOption) (Resp, error)) (json.RawMessage, error) {
	if err := protojson.Unmarshal(raw, req); err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrVendorBadReply, code, "the DetectIntent request (after the pre-hook) is not a DetectIntentRequest: %v", err)
	}
	res, err := call(ctx, req)
	if err != nil {
		return nil, callError(ctx, code, "DetectIntent on "+req.GetSession(), err)
	}
	out, err := protojson.Marshal(res)
	if err != nil {
		return nil, botrelay.NewVendorError(botrelay.ErrVendorBadReply, code, "encode the DetectIntent response: %v", err)
	}
	return out, nil
}

// decodeResponse decodes a DetectIntentResponse in JSON (as the post-hook
// answered it) into res.
func decodeResponse(raw json.RawMessage, res proto.Message, code string) error {
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, res); err != nil {
		return botrelay.NewVendorError(botrelay.ErrVendorBadReply, code, "the DetectIntent response is not a DetectIntentResponse: %v", err)
	}
	return nil
}

func logIgnored(ctx context.Context, log *slog.Logger, t *botrelay.Turn, p *parser) {
	if len(p.ignored) > 0 {
		log.InfoContext(ctx, "ignored Dialogflow payloads of an unknown shape", "conversation_id", string(t.Conversation.ID), "payloads", p.ignored)
	}
}
