// Package pgcluster starts and stops throwaway PostgreSQL clusters built
// from the operating system's own server binaries (initdb and postgres).
//
// It exists for the local dev server and the test harness: every Cluster
// lives in a fresh temp dir, trusts all local connections without a
// password, listens only on 127.0.0.1, and by default runs with durability
// switched off (fsync, synchronous_commit and full_page_writes all off) so it
// starts quickly and writes cheaply on a small, shared machine. Stop shuts
// the server down and deletes everything it wrote.
//
// It is for local and test use only. Never point it at, or use it to hold,
// production data: a crash of a cluster started with the defaults can lose
// or corrupt anything in it, and anyone on the machine can connect as the
// superuser.
package pgcluster
