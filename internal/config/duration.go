package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that reads and writes itself as text such as
// "15s", "2m" or "1h30m" (the time.ParseDuration syntax), both in the YAML
// config file and in environment variables. Convert it with
// time.Duration(d) where a standard duration is needed.
type Duration time.Duration

// String formats the duration like time.Duration.String, for example "15s".
func (d Duration) String() string {
	return time.Duration(d).String()
}

// MarshalText encodes the duration in the form that UnmarshalText accepts.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText parses text with time.ParseDuration. A bare number without
// a unit, such as "15", is rejected, except for "0".
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want %s", text, Duration(0).expected())
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML encodes the duration as a YAML string such as "15s".
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// UnmarshalYAML decodes a YAML scalar with UnmarshalText. Mappings and
// sequences are rejected.
func (d *Duration) UnmarshalYAML(value *yaml.Node) error {
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a scalar such as 15s, not a %s", value.Line, nodeKindName(value.Kind))
	}
	return d.UnmarshalText([]byte(value.Value))
}

// expected describes the accepted syntax for error messages.
func (Duration) expected() string {
	return "a duration with a unit, such as 15s, 2m or 1h30m"
}
