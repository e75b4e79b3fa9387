package sqlstore

import "time"

// CommitObserver is told about each committed write of the store: how many
// writes the transaction held (a group commit holds several, a write in a
// transaction of its own one) and how long it took from BEGIN to COMMIT. It runs
// on the committing goroutine and must not block.
type CommitObserver func(writes int, d time.Duration)

// ObserveCommits makes f the store's commit observer (nil for none); it is
// for metrics.
func (s *Store) ObserveCommits(f CommitObserver) {
	if f == nil {
		s.commits.Store(nil)
		return
	}
	s.commits.Store(&f)
}

func (s *Store) observeCommit(writes int, d time.Duration) {
	if f := s.commits.Load(); f != nil {
		(*f)(writes, d)
	}
}
