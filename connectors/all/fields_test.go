package all

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
)

// sample is a value of the field's type, as the dashboard's form sends it.
func sample(f botrelay.VendorField) any {
	switch f.Type {
	case botrelay.FieldURL:
		return "https://vendor.example.com/api"
	case botrelay.FieldNumber:
		return 1
	case botrelay.FieldBoolean:
		return true
	case botrelay.FieldSelect:
		return f.Options[0]
	case botrelay.FieldList:
		return []string{"human"}
	case botrelay.FieldJSON:
		return map[string]any{}
	case botrelay.FieldCode:
		return "function lambda(input, callback) { callback(null, { messages: ['hi'] }); }"
	}
	return "value"
}

// TestEveryVendorDescribesItsSettings: every built-in connector describes
// its settings for the generated forms, every secret and endpoint setting
// among them, and the connector accepts every described key with a value
// of the described type (an unknown key or a wrong type would be refused
// before any other check).
func TestEveryVendorDescribesItsSettings(t *testing.T) {
	for _, c := range Connectors() {
		info := c.Info()
		t.Run(info.ID, func(t *testing.T) {
			if len(info.Fields) == 0 {
				t.Fatalf("vendor %s describes no settings (VendorInfo.Fields)", info.ID)
			}
			if err := botrelay.CheckFields(info); err != nil {
				t.Fatal(err)
			}
			required := 0
			settings := map[string]any{}
			for _, f := range info.Fields {
				settings[f.Key] = sample(f)
				if f.Required {
					required++
				}
			}
			if required == 0 {
				t.Errorf("vendor %s marks no setting required", info.ID)
			}
			raw, _ := json.Marshal(settings)
			_, err := c.NewBot(raw, botrelay.BotEnv{BotID: "b1", AccountID: "1000"})
			if err != nil {
				msg := err.Error()
				for _, bad := range []string{"unknown field", "unknown setting", "cannot unmarshal"} {
					if strings.Contains(msg, bad) {
						t.Errorf("vendor %s refuses its own described settings %s: %v", info.ID, raw, err)
					}
				}
			}
		})
	}
}

// TestCheckFieldsRefusesBadDescriptions: the checks CheckFields makes.
func TestCheckFieldsRefusesBadDescriptions(t *testing.T) {
	ok := botrelay.VendorField{Key: "baseUrl", Label: "Base URL", Type: botrelay.FieldURL}
	cases := map[string]botrelay.VendorInfo{
		"no label":         {ID: "v", Fields: []botrelay.VendorField{{Key: "a", Type: botrelay.FieldString}}},
		"twice":            {ID: "v", Fields: []botrelay.VendorField{ok, ok}},
		"bad type":         {ID: "v", Fields: []botrelay.VendorField{{Key: "a", Label: "A", Type: "password"}}},
		"select no option": {ID: "v", Fields: []botrelay.VendorField{{Key: "a", Label: "A", Type: botrelay.FieldSelect}}},
		"secret undescribed": {ID: "v", Secrets: []string{"token"}, Endpoint: []string{"baseUrl"},
			Fields: []botrelay.VendorField{ok}},
	}
	for name, info := range cases {
		if err := botrelay.CheckFields(info); err == nil {
			t.Errorf("%s: CheckFields accepted %+v", name, info.Fields)
		}
	}
	if err := botrelay.CheckFields(botrelay.VendorInfo{ID: "v", Endpoint: []string{"baseUrl"}, Fields: []botrelay.VendorField{ok}}); err != nil {
		t.Errorf("CheckFields refused a good description: %v", err)
	}
}
