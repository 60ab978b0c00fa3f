"""A network failure (refused, timed out, unknown host, dropped) is answered with confidence only
in a text that shows PostgreSQL: any program's connection fails in those words; another
database's error is not answered at all (wizard/core/message_signs.py)."""

from __future__ import annotations

import pytest

from wizard.core.doctor import diagnose


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("Connection refused", "connection-refused"),
        ("Error: getaddrinfo ENOTFOUND db.internal\n    at GetAddrInfoReqWrap.onlookupall (node:dns:118:26)",
         "host-not-found"),
        ("socket.timeout: timed out", "timeout"),
        ("ConnectionResetError: [Errno 104] Connection reset by peer", "connection-dropped"),
    ],
)  # fmt: skip
def test_a_network_failure_with_no_sign_of_postgresql_is_only_probable(text: str, rule_id: str) -> None:
    found = diagnose(text)
    assert (found.id, found.confidence, found.matched) == (rule_id, "medium", False)


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ('psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: Connection refused',
         "connection-refused"),
        ("Error: getaddrinfo ENOTFOUND db.internal\n    at /app/node_modules/pg-pool/index.js:45:11", "host-not-found"),
        ("ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)", "connection-refused"),
        ("failed to resolve host 'db.internal': [Errno -2] Name or service not known", "host-not-found"),
        # libpq's words in Czech: the sign is in the catalogs' English for them
        ("server neočekávaně ukončil spojení\n\tToto pravděpodobně znamená, že byl ukončen nestandardně před nebo"
         " během vykonávání požadavku.", "connection-dropped"),
    ],
)  # fmt: skip
def test_the_same_failure_from_a_postgresql_client_is_sure(text: str, rule_id: str) -> None:
    found = diagnose(text)
    assert (found.id, found.confidence, found.matched) == (rule_id, "high", True)


def test_an_answer_read_beside_a_server_message_no_rule_knows_is_only_probable() -> None:
    # The server's own line says something else; the words that reach a rule are a note's.
    attempt = 'psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: FATAL:  '
    note = "Tip: when it says 'no pg_hba.conf entry', add a line for this host to pg_hba.conf."
    found = diagnose(attempt + "flux capacitor overloaded\n" + note)
    assert (found.id, found.confidence) == ("no-pg-hba", "medium")
    refused = 'no pg_hba.conf entry for host "10.0.0.9", user "app", database "shop", SSL encryption'
    assert diagnose(attempt + refused + "\n" + note).confidence == "high"  # the server's own words


@pytest.mark.parametrize(
    "text",
    [
        "SQLSTATE[08004] [1040] Too many connections (Connection: mysql, SQL: select * from `sessions`)",
        "ORA-00060: deadlock detected while waiting for resource",
        "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
        "Msg 1205, Level 13, State 51: Transaction was deadlocked on lock resources with another process",
    ],
)
def test_another_databases_error_in_words_postgresql_shares_is_not_answered(text: str) -> None:
    found = diagnose(text)
    assert found.confidence == "low" and found.id is None, text


def test_another_databases_url_given_to_postgresql_is_still_the_url() -> None:
    found = diagnose('missing "=" after "mysql://app:pw@127.0.0.1/shop" in connection info string')
    assert (found.id, found.confidence) == ("url-bad-scheme", "high")


def test_words_of_the_server_and_of_other_programs_about_disk_and_memory() -> None:
    docker = "failed to register layer: write /usr/lib/postgresql/16/lib/llvmjit.so: no space left on device"
    assert diagnose(docker).id is None
    assert diagnose('PANIC:  could not write to file "pg_wal/xlogtemp.61": No space left on device').id == "disk-full"
    killed = "Out of memory: Killed process 41822 (postgres) total-vm:9876544kB, anon-rss:7123456kB"
    assert diagnose(killed).id == "server-crashed"  # the kernel's OOM killer ended a server process
    assert diagnose("ERROR:  out of memory\nDETAIL:  Failed on request of size 1024.").id == "out-of-memory"


def test_a_setting_the_server_refuses_while_starting_the_session_came_in_the_options() -> None:
    refused = 'FATAL:  unrecognized configuration parameter "cluster"'
    text = f'psql: error: connection to server at "10.8.0.3", port 5432 failed: {refused}'
    assert diagnose(text).id == "url-options-encoding"


@pytest.mark.parametrize(
    "text",
    [
        "curl: (60) SSL certificate problem: self-signed certificate in certificate chain",
        "fatal: unable to access 'https://git.example.com/shop/app.git/': SSL certificate problem: unable to get"
        " local issuer certificate",
        "npm ERR! code SELF_SIGNED_CERT_IN_CHAIN\nnpm ERR! request to https://registry.npmjs.org/pg failed,"
        " reason: self-signed certificate in certificate chain",
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection"
        " broken by 'SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify"
        " failed: self-signed certificate in certificate chain (_ssl.c:1006)'))': /simple/psycopg2-binary/",
        "ERROR: Could not install packages due to an OSError: HTTPSConnectionPool(host='files.pythonhosted.org',"
        " port=443): Max retries exceeded with url: /packages/ab/psycopg_binary-3.2.9-cp312-cp312.whl (Caused by"
        " SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))",
        'docker: Error response from daemon: Get "https://registry-1.docker.io/v2/": tls: failed to verify'
        " certificate: x509: certificate signed by unknown authority.",
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection"
        " broken by 'SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify"
        " failed'))': /simple/psycopg2-binary/\nERROR: Could not find a version that satisfies the requirement"
        " psycopg2-binary (from versions: none)",  # pip names the package: no sign of the database
    ],
)
def test_another_services_certificate_failure_is_not_the_databases(text: str) -> None:
    """curl, git, npm, pip, docker: every program's TLS fails in libpq's words; a PostgreSQL
    package's name in the address (psycopg2-binary, pg) is no sign of the database."""
    found = diagnose(text)
    assert (found.recognized, found.confidence) == (False, "low"), found.id
    assert [a.id for a in found.alternatives] == ["ssl-certificate"]


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("Error: self-signed certificate in certificate chain\n    at TLSSocket.onConnectSecure"
         " (node:_tls_wrap:1674:34) {\n  code: 'SELF_SIGNED_CERT_IN_CHAIN'\n}", "medium"),
        ("failed to connect to `host=db.example.net user=app database=shop`: tls error (tls: failed to verify"
         " certificate: x509: certificate signed by unknown authority)", "high"),  # pgx names the database
        ('psql: error: connection to server at "db.internal" (10.0.0.5), port 5432 failed: SSL error: certificate'
         " verify failed", "high"),
    ],
)  # fmt: skip
def test_a_certificate_failure_is_the_databases_as_surely_as_the_text_shows_postgresql(
    text: str, confidence: str
) -> None:
    found = diagnose(text)
    assert (found.id, found.confidence) == ("ssl-certificate", confidence)


def test_a_network_failure_beside_a_web_address_naming_a_driver_is_not_the_databases() -> None:
    """pip reaching PyPI for psycopg2-binary: the driver's name is in the address, not the failure."""
    text = (
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded"
        " with url: /simple/psycopg2-binary/ (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection"
        " object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused'))"
    )
    found = diagnose(text)
    assert (found.recognized, found.confidence) == (False, "low")
    assert [a.id for a in found.alternatives] == ["connection-refused"]
