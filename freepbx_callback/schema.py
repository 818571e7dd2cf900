"""The database schema as ordered, idempotent migrations (MariaDB >= 10.6).

Each migration is a list of statements that may safely run again (IF NOT EXISTS everywhere), because
MariaDB commits DDL implicitly: a migration interrupted half-way is simply re-run.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "queues, requests, attempts, events",
        [
            """CREATE TABLE IF NOT EXISTS qcb_queues (
                queue VARCHAR(32) NOT NULL PRIMARY KEY,
                enabled TINYINT(1) NOT NULL DEFAULT 0,
                did VARCHAR(24) NULL,
                attempts INT NOT NULL DEFAULT 2,
                retry_interval INT NOT NULL DEFAULT 300,
                window_s INT NOT NULL DEFAULT 600,
                offer_every INT NOT NULL DEFAULT 30,
                notify_agents TINYINT(1) NOT NULL DEFAULT 1,
                mode VARCHAR(16) NOT NULL DEFAULT 'agent-first',
                max_pending INT NULL,
                language VARCHAR(8) NOT NULL DEFAULT 'en',
                region CHAR(2) NOT NULL DEFAULT 'US',
                allow_international TINYINT(1) NOT NULL DEFAULT 0,
                allow_premium TINYINT(1) NOT NULL DEFAULT 0,
                block_patterns TEXT NULL,
                allow_patterns TEXT NULL,
                min_talk INT NOT NULL DEFAULT 5,
                updated_at DATETIME(3) NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS qcb_requests (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                queue VARCHAR(32) NOT NULL,
                number VARCHAR(24) NOT NULL,
                e164 VARCHAR(24) NULL,
                did VARCHAR(24) NULL,
                language VARCHAR(8) NOT NULL DEFAULT 'en',
                caller_uniqueid VARCHAR(64) NULL,
                position INT NULL,
                waited INT NULL,
                source VARCHAR(16) NOT NULL DEFAULT 'cli',
                status VARCHAR(16) NOT NULL,
                attempts INT NOT NULL DEFAULT 0,
                requested_at DATETIME(3) NOT NULL,
                next_attempt_at DATETIME(3) NOT NULL,
                last_outcome VARCHAR(32) NULL,
                closed_at DATETIME(3) NULL,
                claimed_by VARCHAR(64) NULL,
                lease_until DATETIME(3) NULL,
                open_flag TINYINT(1) AS (IF(status IN ('pending', 'dialing'), 1, NULL)) PERSISTENT,
                UNIQUE KEY uq_open_request (queue, number, open_flag),
                KEY ix_due (status, queue, next_attempt_at),
                KEY ix_requested (requested_at),
                KEY ix_closed (closed_at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS qcb_attempts (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                request_id BIGINT NOT NULL,
                attempt_no INT NOT NULL,
                node VARCHAR(64) NOT NULL DEFAULT '',
                started_at DATETIME(3) NOT NULL,
                answered_at DATETIME(3) NULL,
                ended_at DATETIME(3) NULL,
                outcome VARCHAR(16) NULL,
                agent VARCHAR(80) NULL,
                talk_seconds INT NULL,
                UNIQUE KEY uq_attempt (request_id, attempt_no),
                CONSTRAINT fk_attempt_request FOREIGN KEY (request_id)
                    REFERENCES qcb_requests (id) ON DELETE CASCADE
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS qcb_events (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                request_id BIGINT NOT NULL,
                at DATETIME(3) NOT NULL,
                event VARCHAR(32) NOT NULL,
                detail VARCHAR(255) NOT NULL DEFAULT '',
                KEY ix_event_request (request_id, id),
                CONSTRAINT fk_event_request FOREIGN KEY (request_id)
                    REFERENCES qcb_requests (id) ON DELETE CASCADE
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    ),
]

MIGRATIONS.append(
    (
        2,
        "per-queue prompt overrides; one request per caller's call",
        [
            "ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS prompts TEXT NULL",
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_caller_uniqueid ON qcb_requests (caller_uniqueid)",
        ],
    )
)

MIGRATIONS.append(
    (
        3,
        "dialer: tries vs counted attempts, channel ids, keep-place-in-line",
        [
            "ALTER TABLE qcb_requests ADD COLUMN IF NOT EXISTS tries INT NOT NULL DEFAULT 0",
            "ALTER TABLE qcb_requests MODIFY COLUMN last_outcome VARCHAR(64) NULL",
            "ALTER TABLE qcb_attempts ADD COLUMN IF NOT EXISTS channel_id VARCHAR(64) NULL",
            "ALTER TABLE qcb_attempts ADD COLUMN IF NOT EXISTS counted TINYINT(1) NOT NULL DEFAULT 1",
            "ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS keep_place TINYINT(1) NOT NULL DEFAULT 0",
            "CREATE INDEX IF NOT EXISTS ix_dialing_lease ON qcb_requests (status, lease_until)",
        ],
    )
)

MIGRATIONS.append(
    (
        4,
        "dialer heartbeats (doctor: is a dialer running, can it log in to AMI)",
        [
            """CREATE TABLE IF NOT EXISTS qcb_nodes (
                node VARCHAR(64) NOT NULL,
                kind VARCHAR(8) NOT NULL,
                pid INT NOT NULL,
                version VARCHAR(32) NOT NULL DEFAULT '',
                started_at DATETIME(3) NOT NULL,
                last_tick_at DATETIME(3) NOT NULL,
                tick_ms INT NOT NULL,
                ami_ok TINYINT(1) NULL,
                ami_error VARCHAR(255) NULL,
                stopped_at DATETIME(3) NULL,
                PRIMARY KEY (node, kind)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    )
)

MIGRATIONS.append(
    (
        5,
        "an index of their own for the foreign keys' request_id (FreePBX's table step needs it declared)",
        [
            # FreePBX migrates module.xml's <database> with Doctrine DBAL, which reads a foreign key whose
            # columns are not exactly some index's columns as needing an implicit index IDX_<hash>, and then
            # drops that index, which does not exist ("Can't DROP INDEX IDX_..."): declared indexes on
            # request_id alone, here and in module.xml, leave Doctrine nothing to invent. On qcb_events the
            # one-column index replaces (request_id, id): InnoDB keeps the primary key in every secondary
            # index, so it still serves "WHERE request_id = ? ORDER BY id".
            "CREATE INDEX IF NOT EXISTS ix_attempt_request ON qcb_attempts (request_id)",
            "ALTER TABLE qcb_events DROP INDEX IF EXISTS ix_event_request, "
            "ADD INDEX ix_event_request (request_id)",
        ],
    )
)

# The key an open request is unique on: the number's E.164 form, or its digits when it has none (a
# number let in by an allow pattern only). ``+74951234567``, ``84951234567`` and ``74951234567`` on an
# RU queue are one number.
NUMBER_KEY = "COALESCE(e164, number)"
OPEN_FLAG = (
    "ALTER TABLE qcb_requests ADD COLUMN IF NOT EXISTS open_flag TINYINT(1) "
    "AS (IF(status IN ('pending', 'dialing'), 1, NULL)) PERSISTENT"
)
_DUPLICATES = f"""SELECT id, FIRST_VALUE(id) OVER (
        PARTITION BY queue, {NUMBER_KEY} ORDER BY status = 'dialing' DESC, id
    ) AS kept
    FROM qcb_requests WHERE status IN ('pending', 'dialing')"""

MIGRATIONS.append(
    (
        6,
        "deny by default: kinds a queue may allow; one open request per number (E.164); one request per "
        "call and number",
        [
            "ALTER TABLE qcb_queues "
            "ADD COLUMN IF NOT EXISTS allow_shared_cost TINYINT(1) NOT NULL DEFAULT 0, "
            "ADD COLUMN IF NOT EXISTS allow_satellite TINYINT(1) NOT NULL DEFAULT 0, "
            "ADD COLUMN IF NOT EXISTS allow_special TINYINT(1) NOT NULL DEFAULT 0",
            # Open requests that are one number written differently: keep the one being dialled (else
            # the oldest) and cancel the others, each with an event that names the one kept. Re-runnable:
            # a second run finds no duplicates left.
            "INSERT INTO qcb_events (request_id, at, event, detail) "
            "SELECT d.id, UTC_TIMESTAMP(3), 'cancelled', "
            "CONCAT('duplicate of request ', d.kept, ' (same number, another spelling)') "
            f"FROM ({_DUPLICATES}) d WHERE d.id <> d.kept",
            "UPDATE qcb_requests r JOIN (" + _DUPLICATES + ") d ON d.id = r.id AND d.id <> d.kept "
            "SET r.status = 'cancelled', r.closed_at = UTC_TIMESTAMP(3), r.lease_until = NULL",
            OPEN_FLAG,  # tables FreePBX created from module.xml have none yet
            f"ALTER TABLE qcb_requests ADD COLUMN IF NOT EXISTS number_key VARCHAR(24) AS ({NUMBER_KEY}) "
            "PERSISTENT",
            "ALTER TABLE qcb_requests DROP INDEX IF EXISTS uq_open_request",
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_open_number ON qcb_requests (queue, number_key, open_flag)",
            # A uniqueid is unique per Asterisk server only: the same id may come from two servers, for
            # two callers. The key keeps one request per call and number (a journal replay stores it once).
            "ALTER TABLE qcb_requests DROP INDEX IF EXISTS uq_caller_uniqueid",
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_caller_call "
            "ON qcb_requests (caller_uniqueid, queue, number)",
        ],
    )
)

MIGRATIONS.append(
    (
        8,
        "a stored deadline per request (expires_at): the window counts from the key press",
        [
            "ALTER TABLE qcb_requests ADD COLUMN IF NOT EXISTS expires_at DATETIME(3) NULL",
            # Rows written before: the first window from the press; after a counted attempt, the retry's
            # window from when it became due (the last counted attempt's end plus the retry interval).
            "UPDATE qcb_requests r LEFT JOIN qcb_queues q ON q.queue = r.queue SET r.expires_at = "
            "COALESCE((SELECT MAX(a.ended_at) FROM qcb_attempts a "
            "WHERE a.request_id = r.id AND a.counted = 1)"
            " + INTERVAL COALESCE(q.retry_interval, 300) SECOND, r.requested_at)"
            " + INTERVAL COALESCE(q.window_s, 600) SECOND WHERE r.expires_at IS NULL",
            "CREATE INDEX IF NOT EXISTS ix_expiry ON qcb_requests (status, queue, expires_at)",
        ],
    )
)

MIGRATIONS.append(
    (
        7,
        "dialer: a per-queue claim counter every claimer writes (one release limit across dialers and "
        "Galera nodes); what became of each attempt's Originate",
        [
            "ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS claim_seq BIGINT NOT NULL DEFAULT 0",
            # NULL: claimed, nothing sent to Asterisk yet; sent: written to AMI; refused: AMI answered
            # Error; failed: OriginateResponse Failure of an agent-first call (no agent answered).
            "ALTER TABLE qcb_attempts ADD COLUMN IF NOT EXISTS originate VARCHAR(16) NULL",
            # Tries open at the upgrade may have been dialled already: never take them for unsent.
            "UPDATE qcb_attempts SET originate = 'sent' WHERE ended_at IS NULL AND originate IS NULL",
        ],
    )
)

MIGRATIONS.append(
    (
        10,
        "a per-queue counter that requests write, so the open-request limit holds across Galera nodes",
        ["ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS admit_seq BIGINT NOT NULL DEFAULT 0"],
    )
)

MIGRATIONS.append(
    (
        11,
        "callback hours per queue: rules and their time zone, or a FreePBX Time Group",
        [
            "ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS hours TEXT NULL, "
            "ADD COLUMN IF NOT EXISTS timezone VARCHAR(64) NOT NULL DEFAULT 'UTC', "
            "ADD COLUMN IF NOT EXISTS timegroup INT NULL",
        ],
    )
)

MIGRATIONS.append(
    (
        12,
        "per queue: the caller's position and the queue's hold time said before each offer (off by default)",
        ["ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS announce_position TINYINT(1) NOT NULL DEFAULT 0"],
    )
)

MIGRATIONS.append(
    (
        14,
        "per queue: the caller may choose when to be called back",
        ["ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS offer_times TINYINT(1) NOT NULL DEFAULT 0"],
    )
)

MIGRATIONS.append(
    (
        15,
        "HTTP API: client keys (hashes only), rate-limit counters shared by every serve, idempotent answers, "
        "who asked for each request through the API",
        [
            """CREATE TABLE IF NOT EXISTS qcb_api_keys (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name VARCHAR(64) NOT NULL,
                token_hash CHAR(64) NOT NULL,
                token_hint VARCHAR(16) NOT NULL DEFAULT '',
                queues TEXT NULL,
                per_minute INT NOT NULL DEFAULT 60,
                per_number_hour INT NOT NULL DEFAULT 3,
                created_at DATETIME(3) NOT NULL,
                revoked_at DATETIME(3) NULL,
                UNIQUE KEY uq_api_key_name (name),
                UNIQUE KEY uq_api_key_hash (token_hash)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            # One row per bucket ("k:<key id>", "n:<number>") and fixed window (epoch seconds of its start).
            """CREATE TABLE IF NOT EXISTS qcb_api_rates (
                bucket VARCHAR(80) NOT NULL,
                window_start BIGINT NOT NULL,
                hits INT NOT NULL DEFAULT 0,
                PRIMARY KEY (bucket, window_start),
                KEY ix_rate_window (window_start)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS qcb_api_idempotency (
                key_id BIGINT NOT NULL,
                idem_key VARCHAR(128) NOT NULL,
                body_hash CHAR(64) NOT NULL,
                created_at DATETIME(3) NOT NULL,
                status INT NULL,
                response TEXT NULL,
                PRIMARY KEY (key_id, idem_key),
                KEY ix_idem_created (created_at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
            """CREATE TABLE IF NOT EXISTS qcb_api_requests (
                request_id BIGINT NOT NULL PRIMARY KEY,
                key_name VARCHAR(64) NOT NULL,
                name VARCHAR(100) NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    )
)

MIGRATIONS.append(
    (
        16,
        "events: written to Asterisk's queue_log yet (0: waiting for the writer; history is not written)",
        [
            "ALTER TABLE qcb_events ADD COLUMN IF NOT EXISTS queue_log TINYINT(1) NOT NULL DEFAULT 0",
            # Every row there now is history (also where FreePBX's table step added the column first).
            "UPDATE qcb_events SET queue_log = 1 WHERE queue_log = 0",
            "CREATE INDEX IF NOT EXISTS ix_event_queue_log ON qcb_events (queue_log)",
        ],
    )
)

MIGRATIONS.append(
    (
        17,
        "department alerts: per-queue addresses and kinds; an outbox of alert mails",
        [
            "ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS alert_to TEXT NULL, "
            "ADD COLUMN IF NOT EXISTS alert_on VARCHAR(32) NOT NULL DEFAULT ''",
            # One row per mail, written in the transaction of the change it reports; what the message
            # says is copied in then (a later attempt or a purge does not change it).
            """CREATE TABLE IF NOT EXISTS qcb_alerts (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                request_id BIGINT NOT NULL,
                kind VARCHAR(16) NOT NULL,
                queue VARCHAR(32) NOT NULL,
                number VARCHAR(24) NOT NULL,
                recipients TEXT NOT NULL,
                timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
                requested_at DATETIME(3) NOT NULL,
                event_at DATETIME(3) NOT NULL,
                attempts INT NOT NULL DEFAULT 0,
                last_outcome VARCHAR(64) NULL,
                status VARCHAR(16) NOT NULL DEFAULT 'pending',
                tries INT NOT NULL DEFAULT 0,
                next_try_at DATETIME(3) NOT NULL,
                claimed_by VARCHAR(64) NULL,
                lease_until DATETIME(3) NULL,
                sent_at DATETIME(3) NULL,
                last_error VARCHAR(255) NULL,
                KEY ix_alert_due (status, next_try_at),
                KEY ix_alert_request (request_id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
        ],
    )
)

MIGRATIONS.append(
    (
        18,
        "queues: agent acceptance (the agent presses 1 before the customer is dialled; off by default)",
        ["ALTER TABLE qcb_queues ADD COLUMN IF NOT EXISTS agent_accept TINYINT(1) NOT NULL DEFAULT 0"],
    )
)

VERSIONS = sorted(version for version, _, _ in MIGRATIONS)
LATEST = VERSIONS[-1]

# The columns a Request is read from, in the order of its fields.
REQUEST_COLUMNS = (
    "id, queue, number, status, requested_at, next_attempt_at, e164, did, language, attempts, "
    "caller_uniqueid, position, waited, source, last_outcome, closed_at, claimed_by, lease_until, tries, "
    "expires_at"
)

SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS qcb_schema (
    version INT NOT NULL PRIMARY KEY,
    description VARCHAR(255) NOT NULL,
    applied_at DATETIME(3) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

# Run after the versioned migrations on every `db migrate`: FreePBX creates the module's tables from
# module.xml (which cannot express a generated column, millisecond DATETIMEs or foreign keys) before the
# module's install() runs `db migrate`, and may drop unknown keys on a module upgrade. These statements
# bring such tables to the shape above; on tables this file created they change nothing.
ENSURE: list[str] = [
    OPEN_FLAG,
    f"ALTER TABLE qcb_requests ADD COLUMN IF NOT EXISTS number_key VARCHAR(24) AS ({NUMBER_KEY}) PERSISTENT",
    "ALTER TABLE qcb_requests DROP INDEX IF EXISTS uq_open_request",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_open_number ON qcb_requests (queue, number_key, open_flag)",
    "CREATE INDEX IF NOT EXISTS ix_due ON qcb_requests (status, queue, next_attempt_at)",
    "ALTER TABLE qcb_requests DROP INDEX IF EXISTS uq_caller_uniqueid",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_caller_call ON qcb_requests (caller_uniqueid, queue, number)",
    "CREATE INDEX IF NOT EXISTS ix_dialing_lease ON qcb_requests (status, lease_until)",
    "CREATE INDEX IF NOT EXISTS ix_expiry ON qcb_requests (status, queue, expires_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_attempt ON qcb_attempts (request_id, attempt_no)",
    "ALTER TABLE qcb_requests MODIFY requested_at DATETIME(3) NOT NULL, "
    "MODIFY next_attempt_at DATETIME(3) NOT NULL, MODIFY closed_at DATETIME(3) NULL, "
    "MODIFY lease_until DATETIME(3) NULL, MODIFY expires_at DATETIME(3) NULL",
    "ALTER TABLE qcb_attempts MODIFY started_at DATETIME(3) NOT NULL, MODIFY answered_at DATETIME(3) NULL, "
    "MODIFY ended_at DATETIME(3) NULL",
    "ALTER TABLE qcb_events MODIFY at DATETIME(3) NOT NULL",
    "ALTER TABLE qcb_queues MODIFY updated_at DATETIME(3) NOT NULL",
    "ALTER TABLE qcb_schema MODIFY applied_at DATETIME(3) NOT NULL",
    "ALTER TABLE qcb_nodes MODIFY started_at DATETIME(3) NOT NULL, MODIFY last_tick_at DATETIME(3) NOT NULL, "
    "MODIFY stopped_at DATETIME(3) NULL",
    "ALTER TABLE qcb_api_keys MODIFY created_at DATETIME(3) NOT NULL, MODIFY revoked_at DATETIME(3) NULL",
    "ALTER TABLE qcb_api_idempotency MODIFY created_at DATETIME(3) NOT NULL",
    "ALTER TABLE qcb_alerts MODIFY requested_at DATETIME(3) NOT NULL, MODIFY event_at DATETIME(3) NOT NULL, "
    "MODIFY next_try_at DATETIME(3) NOT NULL, MODIFY lease_until DATETIME(3) NULL, "
    "MODIFY sent_at DATETIME(3) NULL",
    "ALTER TABLE qcb_attempts ADD CONSTRAINT fk_attempt_request FOREIGN KEY IF NOT EXISTS (request_id) "
    "REFERENCES qcb_requests (id) ON DELETE CASCADE",
    "ALTER TABLE qcb_events ADD CONSTRAINT fk_event_request FOREIGN KEY IF NOT EXISTS (request_id) "
    "REFERENCES qcb_requests (id) ON DELETE CASCADE",
]
