"""Everything the bot sends unasked: the reminder planner (pure, from the plan and the
database at each tick), the durable outbox and its rate-limited sender. Arrives with the
reporting-cycle issue; the outbox table is already in models/tables.py."""
