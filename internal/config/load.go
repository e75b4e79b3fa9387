package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// NonConfigEnv lists environment variables that start with EnvPrefix but
// are not config keys, such as secrets read elsewhere. Load ignores them
// instead of reporting them as unknown. Other packages may append to it
// during program initialization, before Load runs.
var NonConfigEnv = []string{
	"BOTRELAY_MASTER_KEY",
	"BOTRELAY_ADMIN_PASSWORD",
	"BOTRELAY_TOKEN",
	"BOTRELAY_SERVER",
}

// NonConfigEnvPrefixes lists name prefixes of environment variables that
// Load ignores, like the names in NonConfigEnv. Other packages may append
// to it during program initialization, before Load runs.
var NonConfigEnvPrefixes = []string{
	"BOTRELAY_TEST_",
}

// isNonConfigEnv reports whether the environment variable name is
// allow-listed by NonConfigEnv or NonConfigEnvPrefixes.
func isNonConfigEnv(name string) bool {
	if slices.Contains(NonConfigEnv, name) {
		return true
	}
	for _, p := range NonConfigEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Load builds the configuration of botrelay serve. It starts from Default,
// then applies the YAML file at path unless path is empty, then the
// environment variables in environ (in the "KEY=value" form of
// os.Environ), and finally checks the result with Validate.
//
// In the file, a key left without a value (null) keeps its default. Keys
// the file does not know, repeated keys and values of the wrong type are
// errors. In the environment, each config key is read from the variable
// that Keys lists; when environ holds a variable twice the last one wins.
// A variable with an empty value sets the key to the empty string, which
// is an error for keys that are not strings. Any other variable starting
// with EnvPrefix is an error unless NonConfigEnv or NonConfigEnvPrefixes
// allow it.
//
// Errors about a particular key or variable are *Error values. On error
// Load returns the zero Config.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: read config file: %w", err)
		}
		if err := decodeYAML(&cfg, path, data); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeYAML applies the YAML document data, read from file, to cfg.
func decodeYAML(cfg *Config, file string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file, or only comments
		}
		return fmt.Errorf("config: parse %s: %w", file, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("config: parse %s: %w", file, err)
		}
		return fmt.Errorf("config: %s holds more than one YAML document (line %d starts another); keep all settings in one", file, next.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	root = unalias(root)
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s must hold a mapping of config keys such as \"addr: 127.0.0.1:8080\", got %s", file, describeNode(root))
	}
	return decodeMapping(reflect.ValueOf(cfg).Elem(), root, schema().top, "", file)
}

// decodeMapping applies the YAML mapping n to the fields of one section of
// the Config value cfg. The dotted keys of the section start with prefix.
func decodeMapping(cfg reflect.Value, n *yaml.Node, fields []*field, prefix, file string) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := unalias(n.Content[i]), unalias(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			return &Error{Key: strings.TrimSuffix(prefix, "."), Msg: fmt.Sprintf(
				"%s (line %d) has %s as a key; keys must be plain names", file, kn.Line, describeNode(kn))}
		}
		key := prefix + kn.Value
		if kn.ShortTag() == "!!merge" {
			return &Error{Key: key, Msg: fmt.Sprintf(
				"%s (line %d) uses a YAML merge key %q, which config files do not support", file, kn.Line, key)}
		}
		if line, dup := seen[kn.Value]; dup {
			return &Error{Key: key, Msg: fmt.Sprintf(
				"key %q appears twice in %s (lines %d and %d)", key, file, line, kn.Line)}
		}
		seen[kn.Value] = kn.Line
		fi := slices.IndexFunc(fields, func(f *field) bool { return f.name == kn.Value })
		if fi < 0 {
			return &Error{Key: key, Msg: fmt.Sprintf(
				"unknown key %q in %s (line %d); known keys are %s", key, file, kn.Line, keyList(fields))}
		}
		if err := decodeField(cfg, fields[fi], vn, file); err != nil {
			return err
		}
	}
	return nil
}

// decodeField applies the YAML value n to the field f of the Config value
// cfg.
func decodeField(cfg reflect.Value, f *field, n *yaml.Node, file string) error {
	if isNull(n) {
		return nil // "key:" without a value keeps the default
	}
	at := fmt.Sprintf("%s in %s (line %d)", f.key, file, n.Line)
	if f.kind == kindSection {
		if n.Kind != yaml.MappingNode {
			return &Error{Key: f.key, Msg: fmt.Sprintf(
				"%s must be a section with the keys %s, got %s", at, keyList(f.sub), describeNode(n))}
		}
		return decodeMapping(cfg, n, f.sub, f.key+".", file)
	}
	v := cfg.FieldByIndex(f.index)
	if n.Kind != yaml.ScalarNode || !f.set(v, n.Value) {
		return &Error{Key: f.key, Msg: fmt.Sprintf(
			"%s must be %s, got %s", at, f.expected(v), describeNode(n))}
	}
	return nil
}

// applyEnv applies the BOTRELAY_ variables in environ to cfg.
func applyEnv(cfg *Config, environ []string) error {
	s := schema()
	root := reflect.ValueOf(cfg).Elem()
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || isNonConfigEnv(name) {
			continue
		}
		f := s.byEnv[name]
		if f == nil {
			return &Error{Env: name, Msg: fmt.Sprintf(
				"unknown environment variable %s: no config key reads it; fix its name or unset it", name)}
		}
		v := root.FieldByIndex(f.index)
		if !f.set(v, value) {
			return &Error{Key: f.key, Env: name, Msg: fmt.Sprintf(
				"environment variable %s (key %s) must be %s, got %q", name, f.key, f.expected(v), value)}
		}
	}
	return nil
}

// unalias follows YAML aliases (*name) to the node they refer to.
func unalias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is the YAML null value, such as "~" or a key
// left without a value.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describeNode names the value n for error messages: the quoted scalar, or
// the kind of collection.
func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return nodeKindName(n.Kind)
}

// nodeKindName names a YAML node kind with its article, e.g. "a mapping".
func nodeKindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.DocumentNode:
		return "a document"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unknown YAML value"
}
