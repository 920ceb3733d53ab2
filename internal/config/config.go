// Package config reads Kopilka's settings from flags and KOPILKA_*
// environment variables (flags win) into a Config value.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Config is every setting of the server and the commands.
type Config struct {
	DB          string        // database URL or SQLite file; "" means ./kopilka.db
	Addr        string        // listen address of serve
	LogLevel    slog.Level    // debug, info, warn, error
	LogFormat   string        // json or text
	DueInterval time.Duration // how often serve activates and expires lots
	Committers  int           // PostgreSQL group committers; 0 = default
	NoBatch     bool          // one transaction per write (for comparison)
	Pprof       string        // listen address of the profiler; "" = off
	PIIKeys     string        // the personal-data key file; "" = kopilka.keys beside the SQLite file (or in the working dir)
}

// Flags registers the common flags on fs with defaults from getenv and
// returns a function that validates and returns the Config after
// fs.Parse.
func Flags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	env := func(name, def string) string {
		if v := getenv("KOPILKA_" + name); v != "" {
			return v
		}
		return def
	}
	db := fs.String("db", env("DB", ""), "database: postgres://… URL or SQLite file (env KOPILKA_DB; default ./kopilka.db)")
	addr := fs.String("addr", env("ADDR", ":8080"), "listen address (env KOPILKA_ADDR)")
	level := fs.String("log-level", env("LOG_LEVEL", "info"), "log level: debug, info, warn, error (env KOPILKA_LOG_LEVEL)")
	format := fs.String("log-format", env("LOG_FORMAT", "json"), "log format: json or text (env KOPILKA_LOG_FORMAT)")
	due := fs.String("due-interval", env("DUE_INTERVAL", "15s"), "how often to activate and expire points (env KOPILKA_DUE_INTERVAL)")
	committers := fs.Int("committers", 0, "PostgreSQL group committers (0: 4 × CPUs)")
	noBatch := fs.Bool("no-batch", false, "commit every write alone (slower; for comparison)")
	pprof := fs.String("pprof", env("PPROF", ""), "serve Go profiles on this address, e.g. 127.0.0.1:6060 (off by default; env KOPILKA_PPROF)")
	piiKeys := fs.String("pii-keys", env("PII_KEYS", ""), "personal-data key file (env KOPILKA_PII_KEYS; default kopilka.keys beside the SQLite file, or in the working directory for PostgreSQL)")
	return func() (Config, error) {
		c := Config{DB: *db, Addr: *addr, LogFormat: *format, Committers: *committers, NoBatch: *noBatch, Pprof: *pprof,
			PIIKeys: *piiKeys}
		if err := c.LogLevel.UnmarshalText([]byte(*level)); err != nil {
			return c, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", *level)
		}
		if c.LogFormat != "json" && c.LogFormat != "text" {
			return c, fmt.Errorf("--log-format: %q is not json or text", c.LogFormat)
		}
		d, err := time.ParseDuration(*due)
		if err != nil || d < time.Second {
			return c, fmt.Errorf("--due-interval: %q is not a duration of at least 1s", *due)
		}
		c.DueInterval = d
		if c.Committers < 0 || c.Committers > 256 {
			return c, errors.New("--committers: must be from 0 to 256")
		}
		return c, nil
	}
}

// KeysPath is the personal-data key file: --pii-keys, else kopilka.keys
// beside the SQLite file, else (PostgreSQL) in the working directory.
func (c Config) KeysPath() string {
	if c.PIIKeys != "" {
		return c.PIIKeys
	}
	if strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://") {
		return "kopilka.keys"
	}
	db := strings.TrimPrefix(c.DB, "sqlite:")
	if db == "" {
		db = "kopilka.db"
	}
	return filepath.Join(filepath.Dir(db), "kopilka.keys")
}

// Logger builds the logger the config asks for.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if strings.EqualFold(c.LogFormat, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
