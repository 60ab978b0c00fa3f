"""The messages whose English the doctor reads as a rule but whose translations it leaves out, on
review, and why (tools/server_translations.py --survey does not list them again)."""

from __future__ import annotations

# Messages whose English the doctor reads as a rule, left out of MESSAGES on review (what
# --survey does not list again): (a pattern over the msgid, why).
LEFT_OUT: tuple[tuple[str, str, str], ...] = (
    ("", r", skipping", "a NOTICE or WARNING: the statement went on"),
    ("", r"^[A-Z].*\.$", "a DETAIL or HINT, which follows the message the doctor reads"),
    ("postgres", r"^unexpected EOF|could not create directory|^invalid (cidr|ldapscheme) value"
     r"|invalid connection string syntax|^could not translate host name|hostssl|^SSL is not supported by this build"
     r"|consistent recovery state|database system was (shut down|interrupted while in recovery at log)",
     "the server's configuration or the log of a normal start, not what a client is told"),
    ("postgres", r'^("trust"|Kerberos 5|OAuth bearer|certificate) authentication failed'
     r'|authentication failed for user "%s": (host rejected|invalid authentication method)',
     "an authentication failure that is not about a password"),
    ("postgres", r"^canceling the wait for synchronous replication", "a WARNING: the commit happened"),
    ("", r"jsonpath|tape|tinterval|decode a record|error description|Cannot enlarge string|extensible node type"
     r"|A not-null constraint|Failed on request|out of memory (allocating|for query result)",
     "internal or too rare to be pasted"),
    ("libpq", r"^invalid LDAP URL", "an LDAP service lookup, not the database URL"),
    ("libpq", r'^invalid %s value: "%s"$',
     "translated as little more than 'invalid value %s: %s', it matches the server's 'invalid ... value' messages "
     "(listed with each keyword filled in, LIBPQ_KEYWORDS)"),
    ("postgres", r"must be called in a read-only transaction|non-read-only serializable",
     "the English words match a rule that means something else"),
    ("postgres", r"^(template database|configuration column|tsvector column|default value for column"
     r"|logical replication|policy|constraint \"%s\" of relation|rule \"%s\" for relation \"%s\" does not"
     r"|trigger \"%s\" for relation|column (number )?%d of relation)",
     "not the object the rule is about"),
    ("postgres", r"^permission denied to (?!create extension|create database|create role|create temporary"
     r"|create \"|set role|set parameter|COPY)", "a superuser's or a role administrator's operation"),
    ("postgres", r"already exists in operator family|transform for type|SASL authentication is not supported"
     r"|^tablespace \"%s\" cannot be dropped", "too rare to be pasted"),
    ("pg_dump", r"^could not write to output file|^server version: %s; %s version: %s|^out of memory",
     "a full disk and a read-only folder differ only in the system's words (a full disk is listed with them, "
     "PG_DUMP_DISK_FULL); the versions' line says nothing without its numbers (the 'aborting because of server "
     "version mismatch' that follows it does); pg_dump's own memory, not the server's"),
    ("libc", r"^(?!Connection|Network|No route|Name or service|Temporary failure in name|No address associated"
     r"|Servname|Broken pipe|Cannot assign requested)",
     "glibc's words for what is not a failed connection, or that alone do not say whose (out of memory, disk full)"),
)  # fmt: skip
