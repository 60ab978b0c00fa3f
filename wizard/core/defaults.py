"""The defaults every entry point shares (the CLI's flags, the screens' state, the core's
options), in a module that imports nothing, so the first screen can read them for free."""

APPLICATION_NAME = "migration-wizard"  # what pg_stat_activity shows for the wizard's sessions
DEFAULT_CONNECT_TIMEOUT = 15.0  # seconds: a suspended Neon compute takes a few to wake
# One try at a busy table: every query on it queues behind the waiting ALTER for this long,
# so it is short; quick jittered retries make up for it (runner.py).
DEFAULT_LOCK_TIMEOUT_MS = 50
DEFAULT_MAX_WAIT = 60.0  # seconds of retrying a busy table in all
DEFAULT_ONLINE_ROWS = 20_000  # indexes on existing tables this big are built CONCURRENTLY (online.py)
DEFAULT_BLOCKER_GRACE = 5.0  # seconds of waiting before --cancel-blockers/--terminate-blockers act
