package relay

import "crypto/rand"

var randRead = rand.Read
