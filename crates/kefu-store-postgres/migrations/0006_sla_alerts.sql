-- When the SLA watcher next has something to raise on a ticket (warning,
-- breach, escalation step); indexed so a watcher tick reads only tickets
-- with an alert due, however many tickets are open.
ALTER TABLE tickets ADD COLUMN next_alert_at TIMESTAMPTZ;
CREATE INDEX tickets_next_alert_idx ON tickets (next_alert_at) WHERE next_alert_at IS NOT NULL;
