package watson

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// Vendor ids.
const (
	VendorIDV1 = "watson_v1"
	VendorIDV2 = "watson_v2"
)

// Defaults.
const (
	// DefaultTokenURL is IBM Cloud's IAM token endpoint.
	DefaultTokenURL = "https://iam.cloud.ibm.com/identity/token"
	// DefaultVersionV1 is the v1 API version the reply parser is written
	// for (spec §3.2: the 2018-09-20 format, output.generic).
	DefaultVersionV1 = "2018-09-20"
	// DefaultVersionV2 is the v2 API version used when none is set.
	DefaultVersionV2 = "2021-11-27"
)

// V1 is the watson_v1 VendorConnector (Watson Assistant v1, workspaces).
// The zero value is ready to use and safe for concurrent use.
type V1 struct{}

// V2 is the watson_v2 VendorConnector (Watson Assistant v2, sessions).
// The zero value is ready to use and safe for concurrent use.
type V2 struct{}

var (
	_ botrelay.VendorConnector = V1{}
	_ botrelay.VendorConnector = V2{}
)

// Secrets are the setting keys that are credentials.
var secretKeys = []string{"apiKey", "password"}

// Info implements botrelay.VendorConnector.
func (V1) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorIDV1, DisplayName: "IBM Watson Assistant V1", Secrets: secretKeys,
		Endpoint: []string{"workspaceUrl", "workspaceId", "tokenEndpointUrl"}, Errors: errorCodesV1, Fields: fieldsV1}
}

// Info implements botrelay.VendorConnector.
func (V2) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorIDV2, DisplayName: "IBM Watson Assistant V2", Secrets: secretKeys,
		Endpoint: []string{"url", "assistantId", "tokenEndpointUrl"}, Errors: errorCodesV2, Fields: fieldsV2}
}

// Auth holds the credentials shared by both versions: either IAM (apiKey,
// optionally tokenEndpointUrl) or basic (username and password).
type Auth struct {
	// APIKey is an IBM Cloud API key, exchanged for IAM bearer tokens.
	// Secret.
	APIKey string `json:"apiKey,omitempty"`
	// TokenEndpointURL is the IAM token endpoint. Default: DefaultTokenURL.
	// Only with apiKey.
	TokenEndpointURL string `json:"tokenEndpointUrl,omitempty"`
	// Username and Password are basic-auth credentials ("UserPass").
	// Password is secret.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// ConfigV1 is a watson_v1 bot's settings. Unknown keys are refused.
type ConfigV1 struct {
	// WorkspaceURL is the service URL, e.g.
	// https://api.eu-de.assistant.watson.cloud.ibm.com/instances/<id>. Required.
	WorkspaceURL string `json:"workspaceUrl"`
	// WorkspaceID is the skill's (workspace's) id. Required.
	WorkspaceID string `json:"workspaceId"`
	// VersionDate is the API version date (YYYY-MM-DD). Default:
	// DefaultVersionV1.
	VersionDate string `json:"versionDate,omitempty"`
	Auth
}

// ConfigV2 is a watson_v2 bot's settings. Unknown keys are refused.
type ConfigV2 struct {
	// URL is the service URL (LivePerson's "Workspace URL"). Required.
	URL string `json:"url"`
	// AssistantID is the assistant's id (for draft or live environment
	// ids as well). Required.
	AssistantID string `json:"assistantId"`
	// VersionDate is the API version date (YYYY-MM-DD). Default:
	// DefaultVersionV2.
	VersionDate string `json:"versionDate,omitempty"`
	Auth
}

var (
	datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

func invalid(format string, args ...any) error {
	return botrelay.Errorf(botrelay.EINVALID, format, args...)
}

// checkBaseURL trims and checks a service URL setting.
func checkBaseURL(field, raw string) (string, error) {
	s := strings.TrimRight(strings.TrimSpace(raw), "/")
	if s == "" {
		return "", invalid("%s is required", field)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", invalid("%s %q must be an absolute http or https URL", field, s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", invalid("%s must not carry a query, a fragment or user credentials", field)
	}
	if strings.Contains(u.Host, "watsonplatform.net") {
		return "", invalid("%s: the watsonplatform.net endpoints stopped working in May 2021; use the region's assistant.watson.cloud.ibm.com URL", field)
	}
	return s, nil
}

func checkVersion(v *string, def string) error {
	*v = strings.TrimSpace(*v)
	if *v == "" {
		*v = def
		return nil
	}
	if !datePattern.MatchString(*v) {
		return invalid("versionDate %q must be a date YYYY-MM-DD", *v)
	}
	if _, err := time.Parse(time.DateOnly, *v); err != nil {
		return invalid("versionDate %q is not a valid date", *v)
	}
	return nil
}

// validate fills defaults and checks the credentials.
func (a *Auth) validate() error {
	a.APIKey = strings.TrimSpace(a.APIKey)
	a.Username = strings.TrimSpace(a.Username)
	iam, basic := a.APIKey != "", a.Username != "" || a.Password != ""
	switch {
	case iam && basic:
		return invalid("apiKey (IAM) and username/password (basic) exclude each other; set one of them")
	case !iam && !basic:
		return invalid("apiKey (IAM authentication) or username and password (basic authentication) is required")
	case basic && a.Username == "":
		return invalid("username is required with password")
	case basic && a.Password == "":
		return invalid("password is required with username")
	case basic && a.TokenEndpointURL != "":
		return invalid("tokenEndpointUrl is only used with apiKey")
	}
	if iam {
		if strings.TrimSpace(a.TokenEndpointURL) == "" {
			a.TokenEndpointURL = DefaultTokenURL
		}
		a.TokenEndpointURL = strings.TrimSpace(a.TokenEndpointURL)
		u, err := url.Parse(a.TokenEndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return invalid("tokenEndpointUrl %q must be an absolute http or https URL", a.TokenEndpointURL)
		}
	}
	return nil
}

// Validate fills defaults and checks the settings. Errors are EINVALID and
// name the setting.
func (c *ConfigV1) Validate() error {
	var err error
	if c.WorkspaceURL, err = checkBaseURL("workspaceUrl", c.WorkspaceURL); err != nil {
		return err
	}
	c.WorkspaceID = strings.TrimSpace(c.WorkspaceID)
	if c.WorkspaceID == "" {
		return invalid("workspaceId is required")
	}
	if !idPattern.MatchString(c.WorkspaceID) {
		return invalid("workspaceId %q must be letters, digits, '-' or '_' (a UUID)", c.WorkspaceID)
	}
	if err := checkVersion(&c.VersionDate, DefaultVersionV1); err != nil {
		return err
	}
	return c.Auth.validate()
}

// Validate fills defaults and checks the settings. Errors are EINVALID and
// name the setting.
func (c *ConfigV2) Validate() error {
	var err error
	if c.URL, err = checkBaseURL("url", c.URL); err != nil {
		return err
	}
	c.AssistantID = strings.TrimSpace(c.AssistantID)
	if c.AssistantID == "" {
		return invalid("assistantId is required")
	}
	if !idPattern.MatchString(c.AssistantID) {
		return invalid("assistantId %q must be letters, digits, '-' or '_' (a UUID)", c.AssistantID)
	}
	if err := checkVersion(&c.VersionDate, DefaultVersionV2); err != nil {
		return err
	}
	return c.Auth.validate()
}

func decodeSettings(vendor string, cfg json.RawMessage, into any) error {
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		// The decoder's messages name the field and never quote values.
		return invalid("%s settings: %v", vendor, err)
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It decodes and validates cfg
// and does no I/O.
func (V1) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c ConfigV1
	if err := decodeSettings(VendorIDV1, cfg, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := &BotV1{cfg: c}
	b.client = newClient(VendorIDV1, c.Auth, c.VersionDate, env.WithDefaults(VendorIDV1))
	b.path = "/v1/workspaces/" + url.PathEscape(c.WorkspaceID)
	return b, nil
}

// NewBot implements botrelay.VendorConnector. It decodes and validates cfg
// and does no I/O.
func (V2) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c ConfigV2
	if err := decodeSettings(VendorIDV2, cfg, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := &BotV2{cfg: c}
	b.client = newClient(VendorIDV2, c.Auth, c.VersionDate, env.WithDefaults(VendorIDV2))
	b.path = "/v2/assistants/" + url.PathEscape(c.AssistantID)
	return b, nil
}
