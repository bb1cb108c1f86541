-- Issue 23, index diet: tickets_due_warn_idx (next_due_at, next_warn_at)
-- has the same condition and begins with next_due_at, so it serves every
-- query tickets_next_due_idx served (overdue filters, sort=due, the SLA
-- reads): one index entry less per ticket write.
DROP INDEX tickets_next_due_idx;
