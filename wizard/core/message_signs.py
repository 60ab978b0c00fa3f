"""Which program a text comes from: signs of PostgreSQL (its clients, drivers, tools and libpq's
own words), and signs of another service (a web API, Redis, MySQL ...) whose network failure the
doctor's network answers do not explain. doctor.py weighs its answers by them."""

from __future__ import annotations

import re

# A network failure of another service than PostgreSQL (a web API, Redis, MySQL ...), pasted with
# the application's other errors: the doctor's network answers assume a database server, so
# such a text is not one of them unless it shows a sign of PostgreSQL as well.
# Ports of other services: Redis, MySQL, MongoDB, AMQP, Elasticsearch, memcached, the web; and
# (after a colon only: an address's last number is no port) web apps' development servers, SSH,
# mail, SQL Server, Oracle, Kafka.
OTHER_PORTS = "6379|3306|27017|5672|9200|11211|443|80"
MORE_PORTS = "8080|8000|8443|8888|3000|3001|4000|4200|5000|5173|9000|22|25|465|587|1433|1521|9092"
OTHER_SERVICE = re.compile(
    r"\b(?:https?|wss?|redis|rediss|mysql|mongodb(?:\+srv)?|amqps?)://|\bHTTPS?ConnectionPool\(|\[ioredis\]"
    r"|\bRedis\b|\bMongo\w*Error\b|\bFetchError\b|\bAxiosError\b"
    r"|\bMySQL\b|\bMariaDB\b|\bpymysql\b|\bmysqli\b|\bsqlite3?\b|\bORA-\d{5}\b|\bTNS:|\bSQL Server\b|\bmssql\b"
    r"|\bpyodbc\b|\bElasticsearch\b|\bRabbitMQ\b|\bKafka\b|\bmemcached?\b"
    # other tools' own failures: curl, ssh, npm, a browser driver, a task queue, a web API's host
    r"|^curl: \(\d+\)|^ssh: |\bnpm ERR!|\bNavigation timeout\b|\bpuppeteer\b|\bplaywright\b|\bcelery\b"
    # urllib3's retries (pip, requests), whose address may be only a path
    r"|\bRetry\(total="
    r"|\bapi\.[\w-]+\.[a-z]{2,}\b"
    rf"|(?:[\w-]|\])[:.](?:{OTHER_PORTS})\b(?![.:]\d)|(?:[\w-]|\]):(?:{MORE_PORTS})\b(?![.:]\d)"
    rf"|\bport\W{{1,3}}(?:{OTHER_PORTS}|{MORE_PORTS})\b",
    re.IGNORECASE | re.MULTILINE,
)
POSTGRES_SIGN = re.compile(
    r"postgres|\bpsql\b|\bpg_\w|libpq|\bpg\b|node_modules/pg|pg-(?:protocol|pool)|pgbouncer|\bneon|prisma|sequelize"
    r"|psycopg|asyncpg|\bpgx\b|\bpq:|sqlalchemy|\bPG::|jdbc|hikari|knex|drizzle|typeorm|[:.]\s?(?:5432|6432)\b"
    r"|\bport \d+ failed|connection to server|database server|sslmode|SQLSTATE"
    # libpq's own words around a network failure
    r"|could not connect to server|server closed the connection|could not (?:receive|send) data (?:from|to) server"
    r"|could not translate host name|SSL SYSCALL|terminated abnormally|\bP10\d\d\b"
    # psycopg's and pgx's, and a socket's address tuple with PostgreSQL's port
    r"|connection timeout expired|failed to resolve host|failed to connect to .(?:host|user)=|,\s?(?:5432|6432)\)",
    re.IGNORECASE,
)

# Another database's own error (MySQL's "ERROR 1045 (28000)" and PDO's "SQLSTATE[08004] [1040]",
# Oracle's ORA-, SQL Server's "Msg 1205, Level 13", SQLite's, MongoDB's, Redis's): its words may be
# PostgreSQL's too ("Too many connections", "deadlock detected"), its causes and fixes are not. (Its
# URL given to a PostgreSQL tool is no such error: the URL rules answer that.)
OTHER_DATABASE = re.compile(
    r"\b(?:MySQL|MariaDB|pymysql|mysqli|mysql2)\b(?![+\w]*://)|\bSQLSTATE\[\w{5}\] \[\d{4}\]|\bERROR \d{4} \(\w{5}\)"
    r"|\bORA-\d{5}\b|\bTNS:|\bSQL Server\b|\bmssql\b|\bMsg \d+, Level \d+|\bSQLITE_[A-Z]+\b|\bsqlite3?\b"
    r"|\bMongo\w*(?:Error|Exception)\b|\bRedis\w*(?:Error|Exception)\b|\bERR max number of clients\b",
    re.IGNORECASE,
)
# PostgreSQL named: its programs, drivers and library (not words other databases share, as SQLSTATE).
POSTGRES_NAMED = re.compile(
    r"postgres|\bpsql\b|\bpg_\w|libpq|psycopg|asyncpg|\bpgx\b|node_modules/pg\b|pg-(?:protocol|pool)|pgbouncer"
    r"|\bneon\b|\bPG::|org\.postgresql|npgsql",
    re.IGNORECASE,
)

# A web address, or the path of one (pip's "with url: /simple/psycopg/", urllib3's "': /simple/pg8000/"):
# the name of a PostgreSQL package in it is no sign that PostgreSQL failed.
WEB_ADDRESS = re.compile(r"\b(?:https?|wss?)://[^\s'\")]+|\burl: /\S+|(?<=: )/(?:simple|packages)/\S+", re.IGNORECASE)


# A driver's package as pip names it ("requirement psycopg2-binary", "psycopg[binary,pool]"): an
# installation's words, not the driver's.
PACKAGE_NAME = re.compile(r"\bpsycopg2?(?:-binary|-pool|\[[\w,]+\])", re.IGNORECASE)


def postgres_sign(text: str) -> bool:
    """A sign of PostgreSQL outside any web address and package name in the text."""
    return POSTGRES_SIGN.search(PACKAGE_NAME.sub(" ", WEB_ADDRESS.sub(" ", text))) is not None
