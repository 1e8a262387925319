package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// errUsage marks a bad command line: exit code 2.
var errUsage = errors.New("usage")

// loadConfig builds the node's config from its defaults, then the TOML
// file named by --config (if any), then the flags given, each of which
// overrides its key. An unknown key, a bad value or a bad flag is an
// error naming it.
func loadConfig(args []string, stderr io.Writer) (nodeConfig, error) {
	fs := flag.NewFlagSet("pipeline-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "TOML config file; flags override its keys")
	keys := configKeys()
	defaults := defaultNodeConfig()
	type setting struct {
		key configKey
		val string
	}
	var given []setting
	for _, k := range keys {
		usage := fmt.Sprintf("%s (default %q)", k.doc, k.get(&defaults))
		record := func(s string) error {
			given = append(given, setting{k, s})
			return nil
		}
		if k.field(&defaults).Kind() == reflect.Bool {
			fs.BoolFunc(k.name, usage, record) // --http.pprof alone means true
		} else {
			fs.Func(k.name, usage, record)
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pipeline-node [--config FILE] [--KEY VALUE ...]\n       pipeline-node check-config FILE\n       pipeline-node config-reference\n\nEvery config key is also a flag:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nodeConfig{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nodeConfig{}, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	cfg := defaults
	if *file != "" {
		if err := decodeFile(*file, &cfg); err != nil {
			return nodeConfig{}, err
		}
	}
	for _, s := range given {
		if err := s.key.set(&cfg, s.val); err != nil {
			return nodeConfig{}, fmt.Errorf("flag --%w", err)
		}
	}
	return cfg, nil
}

// decodeFile reads the TOML file at path over cfg. Keys it does not know
// are refused, not ignored: a misspelt key would otherwise silently leave
// its default in force.
func decodeFile(path string, cfg *nodeConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(b), cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("config %s: line %d: key %q: %s", path, pe.Position.Line, pe.LastKey, pe.Message)
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		names := make([]string, len(und))
		for i, k := range und {
			names[i] = k.String()
		}
		return fmt.Errorf("config %s: unknown key %s", path, strings.Join(names, ", "))
	}
	return nil
}
