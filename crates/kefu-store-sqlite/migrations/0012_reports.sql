-- Issue 15: handling figures per person and team count resolutions in a
-- period. Only resolve events are indexed (a partial index), so intake
-- and every other change write nothing more.
CREATE INDEX ticket_events_resolve_idx ON ticket_events (at) WHERE action = 'resolve';
