package config

import (
	"time"

	"github.com/botrelay/botrelay/internal/limits"
)

// LoginLimits holds the login limits of Config (see limits.LoginConfig):
// every password check, of the agent login and of /api/v1/login, counts
// against them.
type LoginLimits struct {
	// PairFailures is how many failed logins one login name may have from
	// one client address before delays start.
	PairFailures int `yaml:"pair_failures" doc:"Failed logins allowed for one login name from one client address before each further attempt must wait a delay; at least 1."`
	// NameFailures is how many failed logins one login name may have from
	// all addresses together before delays start.
	NameFailures int `yaml:"name_failures" doc:"Failed logins allowed for one login name from all addresses together before addresses that failed for it must wait a delay; at least 1."`
	// AddressFailures is how many failed logins one client address may have
	// for any names before delays start.
	AddressFailures int `yaml:"address_failures" doc:"Failed logins allowed from one client address, for any login names, before each further attempt from it must wait a delay; at least 1."`
	// Delay is the first delay, doubled by each further failure.
	Delay Duration `yaml:"delay" doc:"First delay after the allowed failures; each further failure doubles it, up to login.max_delay; from 1ms to 1h."`
	// MaxDelay caps the delay.
	MaxDelay Duration `yaml:"max_delay" doc:"Longest delay between two login attempts; at least login.delay and at most 24h."`
	// ForgetAfter is how long failures are remembered after the last one.
	ForgetAfter Duration `yaml:"forget_after" doc:"How long failed logins are remembered after the last one; from 1s to 24h."`
	// HashMemoryMiB bounds the memory of password checks running at once.
	HashMemoryMiB int `yaml:"hash_memory_mib" doc:"Memory in MiB that password checks (19 MiB each) may use at once; 0 picks one check per CPU but one (at least one check), at most 64 MiB and 1/16 of the memory available."`
	// HashWait is how long a login waits for room before it gets 503.
	HashWait Duration `yaml:"hash_wait" doc:"How long a login waits for room among the running password checks before it is refused with 503; from 1ms to 1m."`
}

// ConsumerLimits holds the limits of anonymous consumers (see
// limits.ConsumerConfig); 0 turns a rate off.
type ConsumerLimits struct {
	TokensPerMinute          int `yaml:"tokens_per_minute" doc:"New consumer tokens (new anonymous consumers) per client address per minute; 0 for no limit."`
	ConversationsPerMinute   int `yaml:"conversations_per_minute" doc:"New conversations per client address per minute; 0 for no limit."`
	ConversationsPerConsumer int `yaml:"conversations_per_consumer" doc:"New conversations per consumer per minute; 0 for no limit."`
	MessagesPerMinute        int `yaml:"messages_per_minute" doc:"Messages (text, file and rich content events) per client address per minute; 0 for no limit."`
	MessagesPerConsumer      int `yaml:"messages_per_consumer" doc:"Messages per consumer per minute; 0 for no limit."`
	MaxMessageBytes          int `yaml:"max_message_bytes" doc:"Largest event a consumer may publish, in bytes of JSON; 0 for no limit below the 1 MiB frame size."`
	UploadsPerMinute         int `yaml:"uploads_per_minute" doc:"File uploads (up to 10 MB each) per client address per minute; 0 for no limit."`
}

// defaultLoginLimits and defaultConsumerLimits are the defaults, taken
// from package limits so the two cannot disagree.
func defaultLoginLimits() LoginLimits {
	d := limits.DefaultLoginConfig()
	return LoginLimits{PairFailures: d.PairFailures, NameFailures: d.NameFailures, AddressFailures: d.AddressFailures,
		Delay: Duration(d.Delay), MaxDelay: Duration(d.MaxDelay), ForgetAfter: Duration(d.ForgetAfter),
		HashWait: Duration(d.HashWait)}
}

func defaultConsumerLimits() ConsumerLimits {
	d := limits.DefaultConsumerConfig()
	return ConsumerLimits{TokensPerMinute: d.TokensPerMinute, ConversationsPerMinute: d.ConversationsPerMinute,
		ConversationsPerConsumer: d.ConversationsPerConsumer, MessagesPerMinute: d.MessagesPerMinute,
		MessagesPerConsumer: d.MessagesPerConsumer, MaxMessageBytes: d.MaxMessageBytes, UploadsPerMinute: d.UploadsPerMinute}
}

// LoginConfig converts the login settings for limits.NewLogins.
func (c *Config) LoginConfig() limits.LoginConfig {
	l := c.Login
	return limits.LoginConfig{PairFailures: l.PairFailures, NameFailures: l.NameFailures, AddressFailures: l.AddressFailures,
		Delay: time.Duration(l.Delay), MaxDelay: time.Duration(l.MaxDelay), ForgetAfter: time.Duration(l.ForgetAfter),
		HashMemoryKiB: int64(l.HashMemoryMiB) << 10, HashWait: time.Duration(l.HashWait)}
}

// ConsumerConfig converts the consumer settings for limits.NewConsumers.
func (c *Config) ConsumerConfig() limits.ConsumerConfig {
	l := c.Consumers
	return limits.ConsumerConfig{TokensPerMinute: l.TokensPerMinute, ConversationsPerMinute: l.ConversationsPerMinute,
		ConversationsPerConsumer: l.ConversationsPerConsumer, MessagesPerMinute: l.MessagesPerMinute,
		MessagesPerConsumer: l.MessagesPerConsumer, MaxMessageBytes: l.MaxMessageBytes, UploadsPerMinute: l.UploadsPerMinute}
}

// validateLimits checks the login, consumer and proxy settings.
func (c *Config) validateLimits() error {
	l := c.Login
	for _, f := range []struct {
		key string
		n   int
	}{{"login.pair_failures", l.PairFailures}, {"login.name_failures", l.NameFailures}, {"login.address_failures", l.AddressFailures}} {
		if f.n < 1 || f.n > 1_000_000 {
			return keyError(f.key, "%s %d must be from 1 to 1000000", f.key, f.n)
		}
	}
	if d := time.Duration(l.Delay); d < time.Millisecond || d > time.Hour {
		return keyError("login.delay", "login.delay %s must be from 1ms to 1h", l.Delay)
	}
	if d := time.Duration(l.MaxDelay); d < time.Duration(l.Delay) || d > 24*time.Hour {
		return keyError("login.max_delay", "login.max_delay %s must be at least login.delay (%s) and at most 24h", l.MaxDelay, l.Delay)
	}
	if d := time.Duration(l.ForgetAfter); d < time.Second || d > 24*time.Hour {
		return keyError("login.forget_after", "login.forget_after %s must be from 1s to 24h", l.ForgetAfter)
	}
	if l.HashMemoryMiB < 0 || l.HashMemoryMiB > 1<<20 {
		return keyError("login.hash_memory_mib", "login.hash_memory_mib %d must be 0 (automatic) or a number of MiB up to 1048576", l.HashMemoryMiB)
	}
	if d := time.Duration(l.HashWait); d < time.Millisecond || d > time.Minute {
		return keyError("login.hash_wait", "login.hash_wait %s must be from 1ms to 1m", l.HashWait)
	}
	cl := c.Consumers
	for _, f := range []struct {
		key string
		n   int
	}{{"consumers.tokens_per_minute", cl.TokensPerMinute}, {"consumers.conversations_per_minute", cl.ConversationsPerMinute},
		{"consumers.conversations_per_consumer", cl.ConversationsPerConsumer}, {"consumers.messages_per_minute", cl.MessagesPerMinute},
		{"consumers.messages_per_consumer", cl.MessagesPerConsumer}, {"consumers.max_message_bytes", cl.MaxMessageBytes},
		{"consumers.uploads_per_minute", cl.UploadsPerMinute}} {
		if f.n < 0 {
			return keyError(f.key, "%s %d must be 0 (no limit) or more", f.key, f.n)
		}
	}
	if _, err := limits.ParseProxies(c.TrustedProxies); err != nil {
		return keyError("trusted_proxies", "trusted_proxies %q: %v; list IP addresses or networks separated by commas, such as 127.0.0.1,10.0.0.0/8", c.TrustedProxies, err)
	}
	return nil
}
