package app

import "crypto/rand"

var randRead = rand.Read
