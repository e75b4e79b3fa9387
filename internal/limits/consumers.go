package limits

import (
	"strconv"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// ConsumerConfig sets the limits of anonymous consumers. Every rate is a
// number per minute that a client may use at once (a burst) and that
// refills evenly over the minute; 0 turns that limit off.
type ConsumerConfig struct {
	// TokensPerMinute limits new consumer tokens (new anonymous consumers)
	// per client address.
	TokensPerMinute int
	// ConversationsPerMinute limits new conversations per client address.
	ConversationsPerMinute int
	// ConversationsPerConsumer limits new conversations per consumer.
	ConversationsPerConsumer int
	// MessagesPerMinute limits messages (content and rich content events)
	// per client address.
	MessagesPerMinute int
	// MessagesPerConsumer limits messages per consumer.
	MessagesPerConsumer int
	// MaxMessageBytes bounds the size of one published event, in bytes.
	MaxMessageBytes int
	// UploadsPerMinute limits file uploads per client address.
	UploadsPerMinute int
}

// DefaultConsumerConfig returns the default consumer limits.
func DefaultConsumerConfig() ConsumerConfig {
	return ConsumerConfig{TokensPerMinute: 60, ConversationsPerMinute: 30, ConversationsPerConsumer: 6,
		MessagesPerMinute: 600, MessagesPerConsumer: 60, MaxMessageBytes: 16 << 10, UploadsPerMinute: 20}
}

// Consumers applies ConsumerConfig. A nil *Consumers limits nothing. Safe
// for concurrent use.
type Consumers struct {
	cfg ConsumerConfig
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

// bucket is a token bucket holding up to its rate per minute.
type bucket struct {
	tokens float64
	last   time.Time
}

// NewConsumers returns the consumer limits of cfg with the clock now (nil:
// time.Now).
func NewConsumers(cfg ConsumerConfig, now func() time.Time) *Consumers {
	if now == nil {
		now = time.Now
	}
	return &Consumers{cfg: cfg, now: now, buckets: map[string]*bucket{}}
}

// Config returns the limits in force.
func (c *Consumers) Config() ConsumerConfig {
	if c == nil {
		return ConsumerConfig{}
	}
	return c.cfg
}

// take is one bucket to draw from: its key and its rate per minute.
type take struct {
	key  string
	rate int
	what string // "from your address", "for this consumer"
}

// draw takes one token from every bucket of ts, or from none: it returns a
// *Refused naming the first limit that has no token left.
func (c *Consumers) draw(what string, ts ...take) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	bs := make([]*bucket, len(ts))
	for i, t := range ts {
		if t.rate <= 0 {
			continue
		}
		b := c.buckets[t.key]
		if b == nil {
			b = &bucket{tokens: float64(t.rate), last: now}
			c.buckets[t.key] = b
		}
		perSec := float64(t.rate) / 60
		b.tokens = min(float64(t.rate), b.tokens+now.Sub(b.last).Seconds()*perSec)
		b.last = now
		if b.tokens < 1 {
			wait := time.Duration((1 - b.tokens) / perSec * float64(time.Second))
			return refuse(botrelay.ERATELIMITED, "too many "+what+" "+t.what+" (at most "+strconv.Itoa(t.rate)+" a minute)", wait)
		}
		bs[i] = b
	}
	for _, b := range bs {
		if b != nil {
			b.tokens--
		}
	}
	return nil
}

// sweep drops full buckets once a minute. Caller holds c.mu.
func (c *Consumers) sweep(now time.Time) {
	if now.Sub(c.lastSweep) < time.Minute {
		return
	}
	c.lastSweep = now
	for k, b := range c.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(c.buckets, k)
		}
	}
}

// Token allows a new consumer token for client address addr, or returns a
// *Refused (429).
func (c *Consumers) Token(addr string) error {
	if c == nil {
		return nil
	}
	return c.draw("new consumers", take{"t\x00" + addressKey(addr), c.cfg.TokensPerMinute, "from your address"})
}

// Conversation allows a new conversation of consumer from addr, or returns
// a *Refused (429).
func (c *Consumers) Conversation(addr, consumer string) error {
	if c == nil {
		return nil
	}
	return c.draw("new conversations",
		take{"c\x00" + addressKey(addr), c.cfg.ConversationsPerMinute, "from your address"},
		take{"C\x00" + consumer, c.cfg.ConversationsPerConsumer, "from this consumer"})
}

// Message allows a message of size bytes from consumer at addr: it
// returns an EINVALID error when the message is too large and a *Refused
// (429) when a rate is used up.
func (c *Consumers) Message(addr, consumer string, size int) error {
	if c == nil {
		return nil
	}
	if err := c.Size(size); err != nil {
		return err
	}
	return c.draw("messages",
		take{"m\x00" + addressKey(addr), c.cfg.MessagesPerMinute, "from your address"},
		take{"M\x00" + consumer, c.cfg.MessagesPerConsumer, "from this consumer"})
}

// Upload allows a file upload from addr, or returns a *Refused (429).
func (c *Consumers) Upload(addr string) error {
	if c == nil {
		return nil
	}
	return c.draw("file uploads", take{"u\x00" + addressKey(addr), c.cfg.UploadsPerMinute, "from your address"})
}

// Size returns an EINVALID error when an event of size bytes is larger
// than MaxMessageBytes.
func (c *Consumers) Size(size int) error {
	if c == nil || c.cfg.MaxMessageBytes <= 0 || size <= c.cfg.MaxMessageBytes {
		return nil
	}
	return botrelay.Errorf(botrelay.EINVALID, "the event is %d bytes; at most %d bytes are allowed", size, c.cfg.MaxMessageBytes)
}
