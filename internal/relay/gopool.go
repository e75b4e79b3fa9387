package relay

import "time"

// Conversation workers run on pooled goroutines. A worker ends its
// goroutine when it has nothing left to do (park) and the next event starts
// one again (dispatch): under load that is a new goroutine for nearly every
// message. A new goroutine starts on a small stack, and a turn, down to the
// platform's websocket write, needs several times that: the runtime grew
// and copied the stack three or four times per message, about 5 % of the
// server's CPU in a profile at saturation (the runtime frees a grown stack
// with its goroutine). A pooled goroutine that finished a run waits a little
// for the next one instead, its stack already grown; it ends after
// poolIdle without work, so an idle relay keeps none.

// poolIdle is how long a pooled goroutine waits for work before it ends
// (a variable for tests).
var poolIdle = 2 * time.Second

// goPool runs functions on pooled goroutines.
type goPool struct{ runs chan func() }

// workerPool is shared by every bot's runner.
var workerPool = goPool{runs: make(chan func())}

// run runs f on a waiting pooled goroutine, or on a new one when none
// waits.
func (p *goPool) run(f func()) {
	select {
	case p.runs <- f:
	default:
		go p.serve(f)
	}
}

func (p *goPool) serve(f func()) {
	idle := time.NewTimer(poolIdle)
	idle.Stop()
	for {
		f()
		f = nil
		idle.Reset(poolIdle)
		select {
		case f = <-p.runs:
			idle.Stop()
		case <-idle.C:
			return
		}
	}
}
