package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// configKey is one setting of nodeConfig, found through its toml tag: the
// TOML file, the flags and the reference are all built from the one list
// configKeys returns, so they cannot drift apart.
type configKey struct {
	name string // "raft.election-ticks"
	doc  string
	path []int // field index path from nodeConfig
}

var byteSizeType = reflect.TypeFor[byteSize]()

// configKeys lists every key in declaration order.
func configKeys() []configKey {
	var keys []configKey
	var walk func(t reflect.Type, prefix string, path []int)
	walk = func(t reflect.Type, prefix string, path []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := prefix + f.Tag.Get("toml")
			p := append(append([]int(nil), path...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != byteSizeType {
				walk(f.Type, name+".", p)
				continue
			}
			keys = append(keys, configKey{name: name, doc: f.Tag.Get("doc"), path: p})
		}
	}
	walk(reflect.TypeFor[nodeConfig](), "", nil)
	return keys
}

func (k configKey) field(c *nodeConfig) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(k.path)
}

// get formats the key's value in c as a flag or the reference writes it.
func (k configKey) get(c *nodeConfig) string {
	v := k.field(c)
	switch x := v.Interface().(type) {
	case byteSize:
		return x.String()
	case time.Duration:
		return x.String()
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

// set parses s into the key's field of c; the error names the key.
func (k configKey) set(c *nodeConfig, s string) error {
	v := k.field(c)
	bad := func(want string) error {
		return fmt.Errorf("%s: %q is not %s", k.name, s, want)
	}
	switch v.Type() {
	case byteSizeType:
		b, err := parseByteSize(s)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		v.SetInt(int64(b))
		return nil
	case reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(s)
		if err != nil {
			return bad("a duration such as 10ms or 5s")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return bad("an integer")
		}
		v.SetInt(n)
	case reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return bad("a non-negative integer")
		}
		v.SetUint(n)
	default:
		return fmt.Errorf("%s: unsupported kind %s", k.name, v.Kind())
	}
	return nil
}

// reference writes the Markdown table of every key, its default and its
// meaning: the README's config reference.
func reference() string {
	d := defaultNodeConfig()
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n| --- | --- | --- |\n")
	for _, k := range configKeys() {
		def := k.get(&d)
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", k.name, def, k.doc)
	}
	return b.String()
}
