-- name: backend-pid()$
-- The server process behind this connection: two clients that see one pid share a server
-- session (a transaction-pooling PgBouncer in between; see db.shares_server_sessions).
SELECT pg_backend_pid();
