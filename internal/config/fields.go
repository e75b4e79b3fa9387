package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// EnvPrefix starts the name of every environment variable that botrelay
// reads. The variable for a config key is EnvPrefix followed by the key in
// upper case with "." replaced by "_": tls.self_signed is read from
// BOTRELAY_TLS_SELF_SIGNED.
const EnvPrefix = "BOTRELAY_"

// KeyDoc describes one config key for documentation, such as the
// configuration reference in the README.
type KeyDoc struct {
	// Key is the dotted key, as written in the YAML file, e.g. "tls.cert".
	Key string
	// Env is the environment variable that overrides the key, e.g.
	// "BOTRELAY_TLS_CERT".
	Env string
	// Type is the kind of value: "string", "bool", "int" or "duration".
	Type string
	// Default is the default value formatted as text; it is empty when the
	// default is the empty string.
	Default string
	// Doc is a one-line description, taken from the field's doc tag.
	Doc string
}

// Keys returns the documentation of every config key, in the order the
// fields appear in Config.
func Keys() []KeyDoc {
	def := reflect.ValueOf(Default())
	var docs []KeyDoc
	for _, f := range schema().leaves {
		docs = append(docs, KeyDoc{
			Key:     f.key,
			Env:     f.env,
			Type:    f.typeName(),
			Default: f.format(def.FieldByIndex(f.index)),
			Doc:     f.doc,
		})
	}
	return docs
}

// envName returns the environment variable for a dotted key.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// fieldKind is how a field is read from YAML and from the environment.
type fieldKind int

const (
	kindSection fieldKind = iota // a nested struct: a YAML mapping
	kindString
	kindBool
	kindInt
	kindText // implements encoding.TextUnmarshaler, e.g. Duration
)

// String names the kind as KeyDoc.Type does.
func (k fieldKind) String() string {
	switch k {
	case kindSection:
		return "section"
	case kindString:
		return "string"
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	}
	return "text"
}

// field is one yaml-tagged field of Config or of a nested section.
type field struct {
	name  string       // the yaml tag, e.g. "self_signed"
	key   string       // the dotted key, e.g. "tls.self_signed"
	env   string       // the environment variable, empty for sections
	doc   string       // the doc tag
	index []int        // reflect index path from Config
	typ   reflect.Type // the field's type
	kind  fieldKind
	sub   []*field // the fields of a section
}

// fieldSet is the parsed schema of Config.
type fieldSet struct {
	top    []*field          // top-level fields, sections included
	leaves []*field          // every non-section field, depth first
	byEnv  map[string]*field // leaves by environment variable
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	durationType        = reflect.TypeFor[Duration]()
)

// schema returns the schema of Config, built once on first use. It panics
// if Config has a field the loader cannot handle; that is a programming
// error which the package tests catch.
var schema = sync.OnceValue(func() *fieldSet {
	s := &fieldSet{byEnv: map[string]*field{}}
	s.top = s.walk(reflect.TypeFor[Config](), nil, "")
	return s
})

// walk builds the fields of struct type t, whose dotted keys start with
// prefix.
func (s *fieldSet) walk(t reflect.Type, index []int, prefix string) []*field {
	var fields []*field
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			panic(fmt.Sprintf("config: field %s.%s needs a yaml tag", t.Name(), sf.Name))
		}
		if seen[name] {
			panic(fmt.Sprintf("config: yaml tag %q is used twice in %s", name, t.Name()))
		}
		seen[name] = true
		doc := sf.Tag.Get("doc")
		if doc == "" {
			panic(fmt.Sprintf("config: field %s.%s needs a doc tag", t.Name(), sf.Name))
		}
		f := &field{
			name:  name,
			key:   prefix + name,
			doc:   doc,
			index: append(append([]int(nil), index...), i),
			typ:   sf.Type,
		}
		switch {
		case reflect.PointerTo(sf.Type).Implements(textUnmarshalerType):
			if !sf.Type.Implements(textMarshalerType) {
				panic(fmt.Sprintf("config: %s implements encoding.TextUnmarshaler but not encoding.TextMarshaler", sf.Type))
			}
			f.kind = kindText
		case sf.Type.Kind() == reflect.String:
			f.kind = kindString
		case sf.Type.Kind() == reflect.Bool:
			f.kind = kindBool
		case sf.Type.Kind() >= reflect.Int && sf.Type.Kind() <= reflect.Int64:
			f.kind = kindInt
		case sf.Type.Kind() == reflect.Struct:
			f.kind = kindSection
		default:
			panic(fmt.Sprintf("config: field %s.%s has unsupported type %s", t.Name(), sf.Name, sf.Type))
		}
		if f.kind == kindSection {
			f.sub = s.walk(sf.Type, f.index, f.key+".")
		} else {
			f.env = envName(f.key)
			if other, dup := s.byEnv[f.env]; dup {
				panic(fmt.Sprintf("config: keys %s and %s share the environment variable %s", other.key, f.key, f.env))
			}
			s.byEnv[f.env] = f
			s.leaves = append(s.leaves, f)
		}
		fields = append(fields, f)
	}
	return fields
}

// typeName is the KeyDoc.Type of a leaf field.
func (f *field) typeName() string {
	if f.typ == durationType {
		return "duration"
	}
	return f.kind.String()
}

// expected says what values a leaf field accepts, for error messages.
func (f *field) expected(v reflect.Value) string {
	switch f.kind {
	case kindString:
		return "a string"
	case kindBool:
		return "true or false"
	case kindInt:
		lo := int64(math.MinInt64) >> (64 - f.typ.Bits())
		hi := int64(math.MaxInt64) >> (64 - f.typ.Bits())
		return fmt.Sprintf("an integer from %d to %d", lo, hi)
	}
	if e, ok := v.Interface().(interface{ expected() string }); ok {
		return e.expected()
	}
	return "a valid " + f.typ.Name()
}

// set parses text into the leaf field value v. It returns false if text is
// not acceptable; v is then unchanged.
func (f *field) set(v reflect.Value, text string) bool {
	switch f.kind {
	case kindString:
		v.SetString(text)
	case kindBool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return false
		}
		v.SetBool(b)
	case kindInt:
		n, err := strconv.ParseInt(text, 10, f.typ.Bits())
		if err != nil {
			return false
		}
		v.SetInt(n)
	case kindText:
		p := reflect.New(f.typ)
		if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
			return false
		}
		v.Set(p.Elem())
	default:
		return false
	}
	return true
}

// format renders the leaf field value v as text that set accepts.
func (f *field) format(v reflect.Value) string {
	switch f.kind {
	case kindString:
		return v.String()
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindText:
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

// keyList joins the dotted keys of fields for error messages.
func keyList(fields []*field) string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return strings.Join(keys, ", ")
}
