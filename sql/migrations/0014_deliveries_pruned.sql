-- Deliveries are history once they are sent, failed or skipped: housekeeping forgets them after
-- a while (sql/queries/deliveries.sql, delete-old-deliveries), a batch per sweep, oldest first,
-- through this index, so a year of daily reminders does not stay in the table forever. Pending
-- rows (the engine's work) are not in it.
CREATE INDEX deliveries_finished_idx ON deliveries (created_at) WHERE state <> 'pending';
