// Package backup takes backups of a stack's database by a named strategy, keeps a
// catalogue of them beside the backups, verifies them, and restores them into a
// fresh, isolated stack while timing every phase of the recovery (the RTO).
//
// A Strategy is data: how backups are taken (pg_basebackup or pg_dump), whether
// WAL is streamed continuously (pg_receivewal through a replication slot,
// optionally as the primary's synchronous standby), and where the backups live (a
// volume of their own in another failure domain, or the database's own volume).
// The built-ins are registered by name: continuous, continuous-async, base-only
// and dump-same-volume (the flawed set-up of the Sidekick story).
//
// A drill uses it like this:
//
//	strategy, _ := backup.Lookup("continuous")
//	st, _ := stack.Start(ctx, run, stack.WithPostgres(strategy.PrimaryOptions()...))
//	sess, _ := strategy.Setup(ctx, run, st.Postgres, backup.WithTimeline(tl))
//	sess.Backup(ctx)                         // a base backup now
//	... workload, sess.RestorePoint(ctx, "before-migration"), the fault ...
//	sess.Stop(ctx)                           // optional; the backups stay
//	r, err := backup.Restore(ctx, run, sess.Catalog(), backup.Latest(), backup.WithTimeline(tl))
//	// errors.Is(err, backup.ErrNothingToRestore): the backups died with the database
//	end := r.Begin(backup.PhaseVerified)     // read every user back from r.Stack
//	end("1000 users intact")
//	r.RTO()                                  // provision, verify-backup, copy, wal-replay, service-healthy, verified
//
// Every program runs for real in containers of the firedrill/postgres image:
// pg_basebackup, pg_receivewal, pg_verifybackup, pg_waldump, pg_dump and
// pg_restore. The package wal, beneath it, does the reasoning about log positions,
// segment names, archive continuity and pg_waldump's output, without containers.
package backup
