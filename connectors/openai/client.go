package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// Bot is one configured openai bot. It implements botrelay.HookableBot and
// botrelay.HealthChecker and is safe for concurrent use.
type Bot struct {
	cfg  Config
	env  botrelay.BotEnv
	http *kit.Client
}

var (
	_ botrelay.HealthChecker = (*Bot)(nil)
	_ botrelay.HookableBot   = (*Bot)(nil)
)

// ChatMessage is one message of the messages array.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// State is the conversation's vendor state: the bounded history and the
// tokens used so far.
type State struct {
	History []ChatMessage `json:"history,omitempty"`
	Tokens  int           `json:"tokens,omitempty"`
}

// Tool is a function tool of the request.
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction describes a function the model may call.
type ToolFunction struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

// ChatRequest is the body of POST /chat/completions.
type ChatRequest struct {
	Model       string        `json:"model"`
	Messages    []ChatMessage `json:"messages"`
	Tools       []Tool        `json:"tools,omitempty"`
	Temperature *float64      `json:"temperature,omitempty"`
}

// ChatResponse is what the connector reads of a completion.
type ChatResponse struct {
	Choices []struct {
		Message struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func decodeState(raw json.RawMessage) State {
	var s State
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &s) // unreadable state: start afresh
	}
	return s
}

// Converse implements botrelay.VendorBot.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.cfg.APIKey)
}

// HookInfo implements botrelay.HookableBot.
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "OpenAI", RequestKey: "openaiPayload", ResponseKey: "openai"}
}

// userContent is the user message of a turn.
func (b *Bot) userContent(t *botrelay.Turn) (string, error) {
	switch t.Kind {
	case botrelay.TurnText:
		return t.Text, nil
	case botrelay.TurnStart:
		if t.LastConsumerMessage != "" {
			return b.cfg.WelcomePrompt + "\nThe customer's last message before reaching you was: " + t.LastConsumerMessage, nil
		}
		return b.cfg.WelcomePrompt, nil
	case botrelay.TurnRichContent:
		rc := new(bytes.Buffer)
		if json.Compact(rc, t.RichContent) != nil {
			rc.Reset()
			rc.WriteString("{}")
		}
		return botrelay.EventConsumerRichContent + "\n" + rc.String(), nil
	case botrelay.TurnFile:
		s := botrelay.EventConsumerFile
		if f := t.File; f != nil {
			raw, _ := json.Marshal(map[string]string{"fileType": f.FileType, "caption": f.Caption, "relativePath": f.RelativePath})
			s += "\n" + string(raw)
		}
		return s, nil
	}
	return "", vendorErr(botrelay.ErrUnsupported, CodeUnsupportedTurn, "openai bots cannot answer a %s turn", t.Kind)
}

// BuildRequest implements botrelay.HookableBot. A conversation that has
// used its token budget fails here, without a call.
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	st := decodeState(t.VendorState)
	if max := b.cfg.MaxTokensPerConversation; max > 0 && st.Tokens >= max {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeTokenBudget, "the conversation used %d tokens; its budget is %d", st.Tokens, max)
	}
	user, err := b.userContent(t)
	if err != nil {
		return nil, err
	}
	req := ChatRequest{Model: b.cfg.Model, Temperature: b.cfg.Temperature}
	if b.cfg.SystemPrompt != "" {
		req.Messages = append(req.Messages, ChatMessage{Role: "system", Content: b.cfg.SystemPrompt})
	}
	req.Messages = append(req.Messages, st.History...)
	req.Messages = append(req.Messages, ChatMessage{Role: "user", Content: user})
	if !b.cfg.DisableTools {
		req.Tools = b.tools()
	}
	out, err := json.Marshal(req)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendRequest, "encode the request: %v", err)
	}
	return out, nil
}

func (b *Bot) tools() []Tool {
	skill := map[string]any{"type": "string", "description": "The exact, case-sensitive name of the skill to transfer to."}
	if len(b.cfg.TransferSkills) > 0 {
		skill["enum"] = b.cfg.TransferSkills
	}
	return []Tool{
		{Type: "function", Function: ToolFunction{Name: ToolTransfer,
			Description: "Transfer the conversation to a team of human agents (a skill). Call it when the customer asks for a human or you cannot help.",
			Parameters: map[string]any{"type": "object", "properties": map[string]any{
				"skill":   skill,
				"message": map[string]any{"type": "string", "description": "What to tell the customer before the transfer."},
			}, "required": []string{"skill", "message"}, "additionalProperties": false}}},
		{Type: "function", Function: ToolFunction{Name: ToolClose,
			Description: "Close the conversation, when the customer has said goodbye or needs nothing more.",
			Parameters:  map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false}}},
	}
}

// Exchange implements botrelay.HookableBot: it POSTs req within the
// latency budget. The vendor state comes from ParseResponse.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	cctx := ctx
	if ms := b.cfg.MaxLatencyMs; ms > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, durationMs(ms))
		defer cancel()
	}
	status, body, err := b.do(cctx, http.MethodPost, "/chat/completions", req, CodeSendRequest)
	if err != nil {
		if ctx.Err() == nil && cctx.Err() != nil {
			return nil, nil, vendorErr(botrelay.ErrVendorUnavailable, CodeLatencyBudget, "no completion within the latency budget of %d ms", b.cfg.MaxLatencyMs)
		}
		return nil, nil, err
	}
	if kit.Classify(status) != kit.Success {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendRequest, "POST /chat/completions: HTTP %d%s", status, b.apiError(body))
	}
	return body, nil, nil
}

// CheckHealth implements botrelay.HealthChecker: GET /models with the key,
// and the model must be among those listed.
func (b *Bot) CheckHealth(ctx context.Context) error {
	status, body, err := b.do(ctx, http.MethodGet, "/models", nil, CodeTestConnection)
	if err != nil {
		return err
	}
	if kit.Classify(status) != kit.Success {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET /models: HTTP %d%s", status, b.apiError(body))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET /models did not answer a model list%s", kit.Snippet(body))
	}
	for _, m := range list.Data {
		if m.ID == b.cfg.Model {
			return nil
		}
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: the server does not offer model %q (%d models listed)", b.cfg.Model, len(list.Data))
}

// do makes one request through the connector kit. Transport failures,
// 408, 429 and 5xx are ErrVendorUnavailable, 401 and 403 ErrVendorAuth;
// other statuses come back.
func (b *Bot) do(ctx context.Context, method, path string, body []byte, code string) (int, []byte, error) {
	h := http.Header{}
	if b.cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+b.cfg.APIKey)
	}
	what := method + " " + path
	res, err := b.http.Send(ctx, kit.Request{Code: code, What: what, Method: method, URL: b.cfg.BaseURL + path, Header: h, Body: body})
	if err != nil {
		return 0, nil, err
	}
	switch kit.Classify(res.Status) {
	case kit.Auth:
		// OpenAI's message quotes part of the key: only its code is shown.
		return 0, nil, vendorErr(botrelay.ErrVendorAuth, code, "%s: the server rejected the API key (HTTP %d%s)", what, res.Status, errorCode(res.Body))
	case kit.Unavailable:
		return 0, nil, b.http.StatusErrorDetail(code, what, "", res, b.apiError(res.Body))
	}
	return res.Status, res.Body, nil
}

type apiErr struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`
	} `json:"error"`
}

// errorCode names an error body's type and code only.
func errorCode(body []byte) string {
	var e apiErr
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	if e.Error.Type != "" {
		parts = append(parts, "type "+e.Error.Type)
	}
	if c, ok := e.Error.Code.(string); ok && c != "" {
		parts = append(parts, "code "+c)
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// apiError quotes an error body's message (or the body's start), with the
// API key, should it appear, masked.
func (b *Bot) apiError(body []byte) string {
	var e apiErr
	s := ""
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		s = b.http.Snippet([]byte(e.Error.Message)) + strings.TrimPrefix(errorCode(body), ",")
	} else {
		s = b.http.Snippet(body)
	}
	return b.http.Redact(s)
}
