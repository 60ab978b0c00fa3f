"""The defaults every entry point shares (the CLI's flags, the screens' state, the core's
options), in a module that imports nothing, so the first screen can read them for free."""

APPLICATION_NAME = "migration-wizard"  # what pg_stat_activity shows for the wizard's sessions
DEFAULT_CONNECT_TIMEOUT = 15.0  # seconds: a suspended Neon compute takes a few to wake
DEFAULT_LOCK_TIMEOUT_MS = 1000  # one try at a busy table
DEFAULT_MAX_WAIT = 60.0  # seconds of retrying a busy table in all
