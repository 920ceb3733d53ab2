// Package config reads Kopilka's settings from flags and KOPILKA_*
// environment variables (flags win) into a Config value.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
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

	RateLimit      float64 // API requests a second per key; 0 = off
	RateBurst      int     // requests a key may make at once above RateLimit
	TenantInflight int     // API requests a tenant may have running at once; 0 = off
	PIIKeys        string  // the personal-data key file; "" = kopilka.keys beside the SQLite file (or in the working dir)
}

// The default limits (RELIABILITY S5). A key may make 5,000 requests a
// second with bursts of as many: several times what a busy shop's
// integration or `kopilka bench` (about 2,000 a second on one key) sends.
// A tenant may have 16 requests running at once — twice the database
// sessions of a two-core machine, and more than a shop's tills send
// together; more queue (see server.DefaultInflightQueue).
const (
	DefaultRateLimit      = 5000
	DefaultRateBurst      = 5000
	DefaultTenantInflight = 16
)

// Flags registers the flags of the server on fs with defaults from
// getenv and returns a function that validates and returns the Config
// after fs.Parse.
func Flags(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	return flags(fs, getenv, true)
}

// CommandFlags is Flags for the other commands: the database, its keys
// and the logs, without the server's (listen address, limits, profiler,
// expiry interval), which keep their defaults, except those of them named
// in also (such as "pprof" for a long import).
func CommandFlags(fs *flag.FlagSet, getenv func(string) string, also ...string) func() (Config, error) {
	return flags(fs, getenv, false, also...)
}

func flags(fs *flag.FlagSet, getenv func(string) string, server bool, also ...string) func() (Config, error) {
	env := func(name, def string) string {
		if v := getenv("KOPILKA_" + name); v != "" {
			return v
		}
		return def
	}
	// serverString is a server's flag; other commands take its default.
	serverString := func(name, envName, def, usage string) *string {
		if !server && !slices.Contains(also, name) {
			return &def
		}
		return fs.String(name, env(envName, def), usage)
	}
	db := fs.String("db", env("DB", ""), "database: postgres://… URL or SQLite file (env KOPILKA_DB; default ./kopilka.db)")
	addr := serverString("addr", "ADDR", ":8080", "listen address (env KOPILKA_ADDR)")
	level := fs.String("log-level", env("LOG_LEVEL", "info"), "log level: debug, info, warn, error (env KOPILKA_LOG_LEVEL)")
	format := fs.String("log-format", env("LOG_FORMAT", "json"), "log format: json or text (env KOPILKA_LOG_FORMAT)")
	due := serverString("due-interval", "DUE_INTERVAL", "15s", "how often to activate and expire points (env KOPILKA_DUE_INTERVAL)")
	committers := fs.Int("committers", 0, "PostgreSQL group committers (0: one per CPU, at least 2)")
	noBatch := fs.Bool("no-batch", false, "commit every write alone (slower; for comparison)")
	pprof := serverString("pprof", "PPROF", "", "serve Go profiles on this address, e.g. 127.0.0.1:6060 (off by default; env KOPILKA_PPROF)")
	rateLimit := serverString("rate-limit", "RATE_LIMIT", strconv.Itoa(DefaultRateLimit), "API requests a second per key, 0 for no limit (env KOPILKA_RATE_LIMIT)")
	rateBurst := serverString("rate-burst", "RATE_BURST", strconv.Itoa(DefaultRateBurst), "API requests a key may make at once (env KOPILKA_RATE_BURST)")
	inflight := serverString("tenant-inflight", "TENANT_INFLIGHT", strconv.Itoa(DefaultTenantInflight), "API requests a tenant may have running at once, 0 for no limit (env KOPILKA_TENANT_INFLIGHT)")
	piiKeys := fs.String("pii-keys", env("PII_KEYS", ""), "personal-data key file (env KOPILKA_PII_KEYS; default kopilka.keys beside the SQLite file, or in the working directory for PostgreSQL)")
	return func() (Config, error) {
		c := Config{DB: *db, Addr: *addr, LogFormat: *format, Committers: *committers, NoBatch: *noBatch, Pprof: *pprof,
			PIIKeys: *piiKeys}
		var err error
		if c.RateLimit, err = strconv.ParseFloat(*rateLimit, 64); err != nil || c.RateLimit < 0 || math.IsInf(c.RateLimit, 0) || math.IsNaN(c.RateLimit) {
			return c, fmt.Errorf("--rate-limit: %q is not a number of requests a second (0 or more)", *rateLimit)
		}
		if c.RateBurst, err = strconv.Atoi(*rateBurst); err != nil || c.RateBurst < 1 {
			return c, fmt.Errorf("--rate-burst: %q is not a whole number of at least 1", *rateBurst)
		}
		if c.TenantInflight, err = strconv.Atoi(*inflight); err != nil || c.TenantInflight < 0 {
			return c, fmt.Errorf("--tenant-inflight: %q is not a whole number (0 or more)", *inflight)
		}
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
