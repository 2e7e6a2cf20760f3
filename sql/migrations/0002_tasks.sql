-- Tasks. A deleted task is kept (deleted_at) so Undo can restore it exactly: same id, fields,
-- position and reminders. `version` detects edits made meanwhile in another tab.

CREATE TABLE tasks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    notes        text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    status       text NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'doing', 'done')),
    priority     smallint CHECK (priority BETWEEN 1 AND 3),   -- 1 high, 2 medium, 3 low
    due_at       timestamptz,
    due_all_day  boolean NOT NULL DEFAULT false,              -- due_at is 23:59 local then
    position     double precision NOT NULL,
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    deleted_at   timestamptz,
    CHECK ((status = 'done') = (completed_at IS NOT NULL))
);

-- The board: one user's live tasks in bucket order.
CREATE INDEX tasks_board_idx ON tasks (user_id, status, position) WHERE deleted_at IS NULL;
