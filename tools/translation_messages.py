"""The messages whose translations the doctor reads (tools/server_translations.py writes them
into wizard/core/doctor_translations.toml), by the catalog domain they come from, the words that
show a situation (CONTEXTS: pg_restore's report, a message's DETAIL lines), and the msgids pinned
per domain (EXTRACT); the ones left out on review, and why, are in translation_left_out.py."""

from __future__ import annotations

from typing import NamedTuple

from tools.translation_left_out import LEFT_OUT as LEFT_OUT
from tools.translation_server_errors import SERVER_ERROR_MSGIDS


class Message(NamedTuple):
    """A msgid whose translations the doctor recognizes, from one catalog domain: "postgres" (the
    server's messages), "libpq" (the client library's own), "pg_dump" (pg_dump's and
    pg_restore's own) or "libc" (glibc's strerror and gai_strerror texts, which libpq puts
    after its own words)."""

    domain: str
    msgid: str  # without a trailing newline: libpq 14 and 15 end theirs with one, 16 not
    last: str | None = None  # a msgid whose translation fills the last argument (%s, or %m: errno's words)
    rule: str | None = None  # only where the English text does not tell (see rule_of)
    first: str | None = None  # a keyword that fills the first %s, untranslated ("sslmode")
    last_domain: str | None = None  # the catalog `last` is translated in, if not the message's own (libc)


def _in(domain: str, *msgids: str) -> tuple[Message, ...]:
    return tuple(Message(domain, msgid) for msgid in msgids)


_NO_ENTRY = 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s'
_NO_ENTRY_REPLICATION = 'no pg_hba.conf entry for replication connection from host "%s", user "%s", %s'
_REJECTS = 'pg_hba.conf rejects connection for host "%s", user "%s", database "%s", %s'
_REJECTS_REPLICATION = 'pg_hba.conf rejects replication connection for host "%s", user "%s", %s'

# The msgids the doctor knows in every language, reviewed from what `--survey` lists: each is
# read as the rule the doctor gives its English text (rule_of), so a translation says what the
# English says. Left out are what LEFT_OUT names, and the messages no rule explains.
#
# The server's connection-time messages (psycopg gives them without a SQLSTATE). Left out:
# the authentication failures that are not about a password ("certificate", "trust", OAuth
# bearer, "host rejected", "invalid authentication method") and 'database "%s" is not
# currently accepting connections', which no rule explains.
SERVER_LOGIN: tuple[Message, ...] = (
    Message("postgres", _NO_ENTRY, "no encryption"),
    Message("postgres", _NO_ENTRY_REPLICATION, "no encryption"),
    Message("postgres", _REJECTS, "no encryption"),
    Message("postgres", _REJECTS_REPLICATION, "no encryption"),
    Message("postgres", _NO_ENTRY),
    Message("postgres", _NO_ENTRY_REPLICATION),
    Message("postgres", _REJECTS),
    Message("postgres", _REJECTS_REPLICATION),
    # a server built without SSL says the same without the encryption
    *_in("postgres", _NO_ENTRY.removesuffix(", %s"), _NO_ENTRY_REPLICATION.removesuffix(", %s"),
         _REJECTS.removesuffix(", %s"), _REJECTS_REPLICATION.removesuffix(", %s")),
    *_in("postgres",
         'Peer authentication failed for user "%s"', 'Ident authentication failed for user "%s"',
         'password authentication failed for user "%s"', 'LDAP authentication failed for user "%s"',
         'RADIUS authentication failed for user "%s"', 'PAM authentication failed for user "%s"',
         'BSD authentication failed for user "%s"', 'GSSAPI authentication failed for user "%s"',
         'SSPI authentication failed for user "%s"',
         'role "%s" does not exist', 'role "%s" is not permitted to log in',
         'permission denied for database "%s"',
         'too many connections for role "%s"', 'too many connections for database "%s"',
         "sorry, too many clients already",
         # 14 and 15; 16 replaced it with the next two
         "remaining connection slots are reserved for non-replication superuser connections",
         "remaining connection slots are reserved for roles with the %s attribute",
         'remaining connection slots are reserved for roles with privileges of the "%s" role',
         "the database system is starting up", "the database system is shutting down",
         "the database system is not yet accepting connections", "the database system is not accepting connections",
         "the database system is in recovery mode",
         "terminating connection due to administrator command",
         "terminating connection because of crash of another server process",
         "terminating connection due to unexpected postmaster exit",
         "terminating connection due to idle-in-transaction timeout",
         "terminating connection due to idle-session timeout",
         # the URL's options= part (or PGOPTIONS) that the server cannot read
         "invalid command-line argument for server process: %s"),
    # a setting in the options without its value (a %3D that key=value form leaves undecoded)
    Message("postgres", "-c %s requires a value", rule="url-options-encoding"),
    Message("postgres", "--%s requires a value", rule="url-options-encoding"),
)  # fmt: skip

# The server's log after a crash, which users paste (with its timestamps) when their
# connections were cut: the postmaster's own lines, not what a client is told.
SERVER_LOG: tuple[Message, ...] = _in(
    "postgres",
    "%s (PID %d) was terminated by signal %d: %s", "%s (PID %d) was terminated by signal %d",
    "terminating any other active server processes",
    "all server processes terminated; reinitializing", "database system was interrupted; last known up at %s",
    "database system was interrupted while in recovery at %s",
    "database system was not properly shut down; automatic recovery in progress",
)  # fmt: skip

# glibc's words for a failed connect() or name lookup, which libpq (and psql) print after
# "connection to server at ... failed:" in the user's language. Not "No such file or
# directory" or "No space left on device": on their own they say nothing about a connection.
LIBC: tuple[Message, ...] = _in(
    "libc",
    "Connection refused", "Network is unreachable", "No route to host", "Connection timed out",
    "Connection reset by peer", "Broken pipe",
    "Name or service not known", "Temporary failure in name resolution", "No address associated with hostname",
    "Servname not supported for ai_socktype", "Cannot assign requested address",
)  # fmt: skip

# libpq's own messages (the client side: the URL, TLS, the connection).
LIBPQ: tuple[Message, ...] = _in(
    "libpq",
    "timeout expired",
    "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\t"
    "before or while processing the request.",
    "SSL SYSCALL error: %s", "SSL SYSCALL error: EOF detected", "SSL connection has been closed unexpectedly",
    "could not receive data from server: %s", "could not send data to server: %s",
    "server does not support SSL, but SSL was required",
    'sslmode value "%s" invalid when SSL support is not compiled in',
    '%s value "%s" invalid when SSL support is not compiled in',
    "SSL error: certificate verify failed: %s",
    'could not read root certificate file "%s": %s',
    'root certificate file "%s" does not exist\nEither provide the file or change sslmode to disable server '
    "certificate verification.",
    'root certificate file "%s" does not exist\nEither provide the file, use the system\'s trusted roots with '
    "sslrootcert=system, or change sslmode to disable server certificate verification.",
    'server certificate for "%s" does not match host name "%s"',
    'server certificate for "%s" (and %d other name) does not match host name "%s"',
    'weak sslmode "%s" may not be used with sslrootcert=system (use "verify-full")',
    "channel binding is required, but client does not support it",
    "channel binding is required, but server did not offer an authentication method that supports channel binding",
    "channel binding required but not supported by server's authentication request",
    "channel binding required, but SSL not in use",
    "channel binding required, but server authenticated client without channel binding",
    'authentication method requirement "%s" failed: %s',
    'authentication method requirement "%s" failed: server requested %s authentication',
    "received invalid response to SSL negotiation: %c", "received invalid response to GSSAPI negotiation: %c",
    "expected authentication request from server, but received %c",
    'invalid sslmode value: "%s"', 'invalid port number: "%s"',
    'invalid percent-encoded token: "%s"', 'forbidden value %%00 in percent-encoded value: "%s"',
    'unexpected spaces found in "%s", use percent-encoded spaces (%%20) instead',
    'invalid connection option "%s"', 'invalid URI query parameter: "%s"',
    'invalid integer value "%s" for connection option "%s"',
    "unterminated quoted string in connection info string",
    'IPv6 host address may not be empty in URI: "%s"',
    'end of string reached when looking for matching "]" in IPv6 host address in URI: "%s"',
    'extra key/value separator "=" in URI query parameter: "%s"',
    'missing key/value separator "=" in URI query parameter: "%s"',
    'unexpected character "%c" at position %d in URI (expected ":" or "/"): "%s"',
    'invalid channel_binding value: "%s"', 'invalid gssencmode value: "%s"',
    'invalid ssl_min_protocol_version value: "%s"', 'invalid ssl_max_protocol_version value: "%s"',
    'invalid target_session_attrs value: "%s"',
    "out of memory",
    # a read-write (or primary) server asked for with target_session_attrs, and a standby answered
    "session is read-only", "server is in hot standby mode",
)  # fmt: skip

# From 15 on, libpq words a bad value of a keyword as 'invalid %s value: "%s"' with the keyword
# in the first %s, untranslated: with the keyword filled in, each translation is as specific as
# the older 'invalid sslmode value: "%s"' (on its own it reads like any server's "invalid ... value").
LIBPQ_KEYWORDS: tuple[Message, ...] = tuple(
    Message("libpq", 'invalid %s value: "%s"', first=keyword)
    for keyword in ("sslmode", "gssencmode", "channel_binding", "target_session_attrs", "load_balance_hosts",
                    "sslcertmode", "sslnegotiation")
)  # fmt: skip

# pg_dump's and pg_restore's own messages (its catalog serves both): a version they refuse, an
# archive they cannot read, an output file or folder they cannot open, a lock or a table they
# cannot get. From 16 on, many say %s (and end with a newline) where 14 and 15 say %m. Not
# "could not write to output file: %m" nor "server version: %s; %s version: %s" (see LEFT_OUT).
PG_DUMP: tuple[Message, ...] = _in(
    "pg_dump",
    "aborting because of server version mismatch",
    "input file does not appear to be a valid archive", "input file does not appear to be a valid archive (too short?)",
    'directory "%s" does not appear to be a valid archive ("toc.dat" does not exist)',
    "input file is too short (read %lu, expected 5)", "did not find magic string in file header",
    "input file appears to be a text format dump. Please use psql.",
    "could not read from input file: end of file", "could not read from input file: %m",
    "could not read from input file: %s", "could not read input file: %m", "could not read input file: %s",
    "unexpected end of file",
    "could not find block ID %d in archive -- possibly corrupt archive",
    "corrupt tar header found in %s (expected %d, computed %d) file position %llu",
    "corrupt tar header found in %s (expected %d, computed %d) file position %s",
    'could not find header for file "%s" in tar archive', "entry ID %d out of range -- perhaps a corrupt TOC",
    "found unexpected block ID (%d) when reading data -- expected %d",
    "unrecognized data block type (%d) while searching archive",
    "unrecognized data block type %d while restoring archive", "could not uncompress data: %s",
    'could not open output file "%s": %m', 'could not open output file "%s": %s', "could not open output file: %m",
    "could not open output file: %s", 'could not create directory "%s": %m', 'could not create directory "%s": %s',
    'could not obtain lock on relation "%s"\nThis usually means that someone requested an ACCESS EXCLUSIVE lock on '
    "the table after the pg_dump parent process had gotten the initial ACCESS SHARE lock on the table.",
    "no matching tables were found", 'no matching tables were found for pattern "%s"',
    "no matching schemas were found", 'no matching schemas were found for pattern "%s"',
)  # fmt: skip

# pg_dump writing its output to a full disk: its "could not write ..." with the system's words for
# ENOSPC after it (glibc's, in the same language); the same words with another errno (a read-only
# folder) are another cause, so only this one is listed.
PG_DUMP_DISK_FULL: tuple[Message, ...] = tuple(
    Message("pg_dump", msgid, "No space left on device", last_domain="libc")
    for msgid in ("could not write to output file: %s", "could not write to output file: %m",
                  "could not write to file: %s", "could not write to file: %m", "could not close output file: %m",
                  "could not close TOC file: %m", "could not close data file: %m", "could not close archive file: %m")
)  # fmt: skip

# What the doctor tells apart in English by the name in it (a URL where a database name or a
# keyword belongs, an '@' in a host name, one of the wizard's own tables), which a translated
# pattern does not see: read as the general rule, given by hand; for an object that already
# exists, the rule its SQLSTATE gives a text it does not recognize (so that the same
# translated message reads the same with its code and without).
GENERAL: tuple[Message, ...] = (
    Message("postgres", 'database "%s" does not exist', rule="database-missing"),
    Message("libpq", 'could not translate host name "%s" to address: %s', rule="host-not-found"),
    Message("libpq", 'missing "=" after "%s" in connection info string', rule="malformed-url"),
    Message("postgres", 'relation "%s" already exists', rule="already-exists"),
    Message("postgres", 'column "%s" of relation "%s" already exists', rule="already-exists"),
    Message("postgres", 'relation "%s" already exists in schema "%s"', rule="already-exists"),
)

# The server's ERROR messages, pasted without their SQLSTATE (the code decides when there is one).
SERVER_ERRORS: tuple[Message, ...] = _in("postgres", *SERVER_ERROR_MSGIDS)

# libpq's hint after a failed connect(): on its own (the system's words for the failure in a
# language glibc does not speak, or from Windows) it means nothing answered at that address.
# Listed last, so that glibc's words, where known ("No route to host"), decide first.
FALLBACKS: tuple[Message, ...] = (
    Message("libpq", "\tIs the server running on that host and accepting TCP/IP connections?",
            rule="connection-refused"),
    Message("libpq", "\tIs the server running locally and accepting connections on that socket?",
            rule="connection-refused"),
)  # fmt: skip

# The HINTs under "permission denied to create extension": a trusted extension's CREATE privilege
# on the database (it refines the message above it), or a superuser's matter.
EXTENSION_HINTS: tuple[Message, ...] = (
    Message("postgres", "Must have CREATE privilege on current database to create this extension.",
            rule="permission-denied"),
    Message("postgres", "Must be superuser to create this extension.", rule="extension-needs-superuser"),
)  # fmt: skip

MESSAGES: tuple[Message, ...] = (
    SERVER_LOGIN
    + SERVER_LOG
    + LIBC
    + LIBPQ
    + LIBPQ_KEYWORDS
    + PG_DUMP
    + PG_DUMP_DISK_FULL
    + SERVER_ERRORS
    # a column named with its table (psql's "column t.x does not exist"): its names decide nothing
    + (Message("postgres", "column %s.%s does not exist", rule="undefined-table"),)
    + EXTENSION_HINTS
    # a newer pg_dump's archive, mostly; its version read back in English decides (a garbage header)
    + (Message("pg_dump", "unsupported version (%d.%d) in file header", rule="version-mismatch"),)
    + GENERAL
    + FALLBACKS
)

# What shows a situation rather than a cause, by the name of its context in doctor_rules.toml:
# pg_restore's report ("while PROCESSING TOC:", "Command was: ..."), where "already exists" means
# the database was not empty. (Older catalogs still word the messages of pg_restore before 12.)
CONTEXTS: dict[str, tuple[Message, ...]] = {
    "restore": _in("pg_dump", "while PROCESSING TOC:", "Error while PROCESSING TOC:",
                   "from TOC entry %d; %u %u %s %s %s", "Error from TOC entry %d; %u %u %s %s %s",
                   "Command was: %s", "could not execute query"),
    # A message's further lines, in any language: psql prints libpq's labels, a server log the
    # server's, pg_dump and pg_restore their own (15 and newer). "detail" lines are read after
    # the message's own; "quoted" lines (SQL and where it ran) are never read.
    "detail": (*_in("libpq", "DETAIL:  %s", "HINT:  %s"), *_in("postgres", "DETAIL:  ", "HINT:  "),
               *_in("pg_dump", "detail: ", "hint: ")),
    "quoted": (*_in("libpq", "QUERY:  %s", "CONTEXT:  %s"), *_in("postgres", "CONTEXT:  ", "STATEMENT:  ", "QUERY:  ")),
}  # fmt: skip

# What the server fills a pg_hba message's last %s with: the encryption of the connection.
ENCRYPTION_STATES = ("no encryption", "SSL encryption", "GSS encryption")

# Server messages that the doctor recognizes by their SQLSTATE, translated in every pinned
# build by tests/core/doctor_mutations.py (its SERVER_MESSAGES, which must list the same
# msgids) for the corpus test: no translation may be misread without its SQLSTATE. Pinned
# here so that test never reads the catalogs of whatever PostgreSQL is installed.
CORPUS_MESSAGES: tuple[str, ...] = (
    'password authentication failed for user "%s"',
    'database "%s" does not exist',
    'relation "%s" does not exist',
    'column "%s" of relation "%s" already exists',
    "permission denied for table %s",
    "cannot execute %s in a read-only transaction",
    "canceling statement due to lock timeout",
    "deadlock detected",
    'duplicate key value violates unique constraint "%s"',
    'insert or update on table "%s" violates foreign key constraint "%s"',
    'invalid input syntax for type %s: "%s"',
    "numeric field overflow",
    "current transaction is aborted, commands ignored until end of transaction block",
    "%s cannot run inside a transaction block",
    "sorry, too many clients already",
    "terminating connection due to administrator command",
    "the database system is starting up",
    "canceling statement due to user request",
    "out of memory",
)


# libpq's words before the system's in a failed connection, pinned for the tests to build whole
# messages with (the TOML does not use them: on their own they say nothing about the cause).
CONNECTION_PREFIXES: tuple[str, ...] = (
    'connection to server at "%s" (%s), port %s failed: ',
    'connection to server at "%s", port %s failed: ',
    'connection to server on socket "%s" failed: ',
)


def variants(message: Message) -> tuple[str, ...]:
    """The msgids a message has in the catalogs: libpq 14 and 15 end theirs with a newline
    (and a few of the server's have a twin that does)."""
    return (message.msgid, message.msgid + "\n")


def _last_domain(message: Message) -> str:
    return message.last_domain or message.domain


# The msgids pinned, per domain.
EXTRACT: dict[str, tuple[str, ...]] = {
    domain: tuple(dict.fromkeys(
        [msgid for message in MESSAGES if message.domain == domain for msgid in variants(message)]
        + [message.last for message in MESSAGES if _last_domain(message) == domain and message.last]
        + [msgid for shown in CONTEXTS.values() for message in shown if message.domain == domain
           for msgid in variants(message)]
        + (list(ENCRYPTION_STATES) + list(CORPUS_MESSAGES) if domain == "postgres" else [])
        + (list(CONNECTION_PREFIXES) if domain == "libpq" else [])
    ))
    for domain in ("postgres", "libpq", "pg_dump", "libc")
}  # fmt: skip
