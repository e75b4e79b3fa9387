package sqlstore

// A lone write commits on its caller's goroutine. Below saturation most
// writes find the batcher idle, and handing such a write to the batcher's
// goroutine and its answer back costs two goroutine wake-ups (each a thread
// woken on a futex) for nothing to group with. So a write that finds
// nothing queued and the writer free takes the writer connection itself
// (b.writer, a mutex) and commits alone; writes that arrive meanwhile queue
// up as usual and the batcher commits them together after it. At
// saturation something is always queued or being committed, the fast path
// is never taken, and writes keep sharing commits.
//
// What stays as it was: one writer at a time (the batcher's goroutine and a
// direct caller both hold b.writer while they use the connection and its
// statements); the statements run without the caller's context, as in a
// batch; a write submitted before Close is answered, one after is refused
// (a direct caller holds b.mu's read lock until its commit is done, so
// Close waits for it).

// direct runs r as a batch of one on the caller's goroutine if the writer
// is idle, answering it on r.done as the batcher would (fencing, PostgreSQL's
// pipeline and retries included). It reports false when the writer is busy;
// the caller then queues the write.
func (b *batcher) direct(r *batchReq) bool {
	// pending counts the writes queued or being committed by the batcher's
	// goroutine, including one it has taken off the queue and holds while
	// it waits for the writer: a write that arrives then queues behind it
	// rather than overtaking it again and again.
	if b.pending.Load() != 0 || !b.writer.TryLock() {
		return false
	}
	defer b.writer.Unlock()
	b.run([]*batchReq{r})
	return true
}
