package botrelay

import "fmt"

// FieldType is the kind of value a vendor setting holds, for the forms the
// dashboard generates from GET /api/v1/vendors.
type FieldType string

// The field types. A form sends string, text, code, url and select
// values as JSON strings, number as a JSON number, boolean as true or false,
// list as an array of strings (one a line, or comma-separated) and json
// as the JSON value typed in.
const (
	FieldString  FieldType = "string"
	FieldText    FieldType = "text" // several lines
	FieldCode    FieldType = "code" // source code, several lines
	FieldURL     FieldType = "url"
	FieldNumber  FieldType = "number"
	FieldBoolean FieldType = "boolean"
	FieldSelect  FieldType = "select" // one of Options
	FieldList    FieldType = "list"   // a list of strings
	FieldJSON    FieldType = "json"   // any JSON value (an object, usually)
)

// Valid reports whether t is one of the field types.
func (t FieldType) Valid() bool {
	switch t {
	case FieldString, FieldText, FieldCode, FieldURL, FieldNumber, FieldBoolean, FieldSelect, FieldList, FieldJSON:
		return true
	}
	return false
}

// VendorField describes one vendor setting (a top-level key of the bot's
// vendor settings) so that a form can be generated for it. Whether it is a
// credential is not repeated here: VendorInfo.Secrets says so.
type VendorField struct {
	// Key is the JSON key, exactly as the connector reads it.
	Key string
	// Label is a short human name, e.g. "Workspace URL".
	Label string
	Type  FieldType
	// Required is true when the connector refuses settings without it.
	// Fields required only together with another (e.g. a password with a
	// user name) are not marked; Help says so.
	Required bool
	// Options are the allowed values of a select field.
	Options []string
	// Default is the value the connector uses when the field is left out,
	// shown as the placeholder; "" when there is none.
	Default string
	// Help is one sentence shown under the field.
	Help string
}

// CheckFields reports the first malformed field description of info: an
// empty or repeated key, an invalid type, a select without options, or a
// secret or endpoint key that no field describes (when Fields is not
// empty). The registry test runs it on every connector.
func CheckFields(info VendorInfo) error {
	if len(info.Fields) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, f := range info.Fields {
		switch {
		case f.Key == "" || f.Label == "":
			return fmt.Errorf("vendor %s: a field without key or label", info.ID)
		case seen[f.Key]:
			return fmt.Errorf("vendor %s: field %q described twice", info.ID, f.Key)
		case !f.Type.Valid():
			return fmt.Errorf("vendor %s: field %q has type %q", info.ID, f.Key, f.Type)
		case f.Type == FieldSelect && len(f.Options) == 0:
			return fmt.Errorf("vendor %s: select field %q has no options", info.ID, f.Key)
		}
		seen[f.Key] = true
	}
	for _, k := range append(append([]string{}, info.Secrets...), info.Endpoint...) {
		if !seen[k] {
			return fmt.Errorf("vendor %s: setting %q has no field description", info.ID, k)
		}
	}
	return nil
}
