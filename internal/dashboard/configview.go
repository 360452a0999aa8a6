package dashboard

import (
	"encoding"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
)

// ConfigView is the config page: the running config with its secrets
// masked, where it came from, and the reload history.
type ConfigView struct {
	Replica string    `json:"replica"`
	File    string    `json:"file"`
	Loaded  time.Time `json:"loaded"`
	Config  any       `json:"config"`
	Reloads []Reload  `json:"reloads"`
	// LastFailure is the latest refused reload, with the errors `rampart
	// check` would print; nil when none was refused.
	LastFailure *Reload `json:"last_failure"`
}

// Reload is one reload attempt.
type Reload struct {
	Time   time.Time `json:"time"`
	OK     bool      `json:"ok"`
	Errors []string  `json:"errors,omitempty"`
}

// maxReloads bounds the reload history kept.
const maxReloads = 50

// Configs follows the running config and its reloads, for the config page.
type Configs struct {
	mu          sync.Mutex
	cfg         *config.Config
	masked      any
	loaded      time.Time
	reloads     []Reload
	lastFailure *Reload
}

// NewConfigs starts the history with the config the server started with.
func NewConfigs(cfg *config.Config, now time.Time) *Configs {
	return &Configs{cfg: cfg, masked: Mask(cfg), loaded: now}
}

// Reloaded records a reload attempt: next is the new running config when
// err is nil.
func (c *Configs) Reloaded(next *config.Config, err error, now time.Time) {
	rl := Reload{Time: now, OK: err == nil}
	if err != nil {
		rl.Errors = errorLines(err)
	}
	var masked any
	if err == nil && next != nil {
		masked = Mask(next)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && next != nil {
		c.cfg, c.masked, c.loaded = next, masked, now
	}
	if err != nil {
		f := rl
		c.lastFailure = &f
	}
	c.reloads = append(c.reloads, rl)
	if len(c.reloads) > maxReloads {
		c.reloads = append(c.reloads[:0:0], c.reloads[len(c.reloads)-maxReloads:]...)
	}
}

// View is the config page's data.
func (c *Configs) View() ConfigView {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := ConfigView{File: c.cfg.File, Loaded: c.loaded, Config: c.masked, Reloads: make([]Reload, 0, len(c.reloads)),
		LastFailure: c.lastFailure}
	for i := len(c.reloads) - 1; i >= 0; i-- { // newest first
		v.Reloads = append(v.Reloads, c.reloads[i])
	}
	return v
}

// errorLines splits a load error into its messages: config.Errors gives one
// `file:line:col: message` per problem, as `rampart check` prints them.
func errorLines(err error) []string {
	var errs config.Errors
	if errors.As(err, &errs) {
		out := make([]string, 0, len(errs))
		for _, e := range errs {
			out = append(out, e.Error())
		}
		return out
	}
	return strings.Split(err.Error(), "\n")
}

// masked replaces a secret in the config view.
const masked = "********"

// secretKeys are config keys whose values are secrets whatever their field
// says.
var secretKeys = map[string]bool{"token": true, "secret": true, "password": true, "key": true, "client_secret": true}

// Mask renders cfg as JSON-ready values under its YAML keys, with secrets
// masked: fields the config marks secret (conf:"secret"), keys named like
// secrets, every value taken from the environment (${VAR}), and passwords
// in URLs.
func Mask(cfg *config.Config) any {
	if cfg == nil {
		return nil
	}
	env := map[string]bool{}
	for _, v := range cfg.FromEnv {
		env[v] = true
	}
	return maskValue(reflect.ValueOf(*cfg), false, env)
}

func maskValue(v reflect.Value, secret bool, env map[string]bool) any {
	if tm, ok := v.Interface().(encoding.TextMarshaler); ok && v.Kind() != reflect.Pointer {
		text, err := tm.MarshalText()
		if err != nil {
			return nil
		}
		return maskString(string(text), secret, env)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if u, ok := v.Interface().(*url.URL); ok {
			return maskString(u.String(), secret, env)
		}
		return maskValue(v.Elem(), secret, env)
	case reflect.Struct:
		out := map[string]any{}
		maskStruct(v, out, env)
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			out[k] = maskValue(iter.Value(), secret || secretKeys[strings.ToLower(k)], env)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = maskValue(v.Index(i), secret, env)
		}
		return out
	case reflect.String:
		return maskString(v.String(), secret, env)
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return nil
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return v.Interface()
}

func maskStruct(v reflect.Value, out map[string]any, env map[string]bool) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || (name == "" && !strings.Contains(opts, "inline")) {
			continue
		}
		if strings.Contains(opts, "inline") {
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				maskStruct(fv, out, env)
			}
			continue
		}
		secret := secretKeys[name] || strings.Contains(f.Tag.Get("conf"), "secret")
		out[name] = maskValue(v.Field(i), secret, env)
	}
}

func maskString(s string, secret bool, env map[string]bool) any {
	switch {
	case s == "":
		return s
	case secret:
		return masked
	case env[s]:
		return masked + " (from the environment)"
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
				return u.String()
			}
		}
	}
	return s
}
