-- ClickHouse tables of the analytics sink: the raw orders and payments, and windowed order statistics.
-- Load: tools/clickhouse-local/clickhouse-local.sh query --file deploy/clickhouse/schema.sql
-- (one HTTP request per statement; a statement ends with `;` at the end of a line, `--` lines are skipped).
-- Idempotent: every statement is IF NOT EXISTS, so loading it again on a running server changes nothing.
--
-- Written for ClickHouse 18.16 (Debian 12's clickhouse-server) and current releases alike; every statement
-- and the behaviour described here were checked on 18.16.1 and on 26.9. Avoided because 18.16 lacks them or
-- behaves differently:
--   Map(K, V)           does not exist in 18.16 ("Unknown data type family: Map"): per-key values are a
--                       Nested of parallel arrays instead (by_currency, declined_by_reason).
--   DateTime64          does not exist in 18.16: the events' millisecond times are stored exactly as
--                       Int64 milliseconds since the epoch (occurred_at_ms); occurred_at is the DateTime
--                       (seconds) derived from it for partitioning and time functions.
--   LowCardinality      experimental in 18.16 (refused unless allow_experimental_low_cardinality_type = 1):
--                       plain String for currency, decline_reason; Enum8 for the closed set of statuses.
--   CODEC(...), TTL     syntax errors in 18.16.
--   CONSTRAINT … CHECK  not in 18.16: the sink validates rows (libs/events) before inserting.
--   DEFAULT expressions on columns the sink might omit: 18.16 fills a column missing from a JSONEachRow
--                       row with the type's zero value, not its DEFAULT expression (current releases
--                       evaluate it), so the two would disagree. The only computed column is MATERIALIZED
--                       (computed on every insert by both, never sent by the sink, not part of SELECT *).
-- Used as they are in both: CREATE TABLE … ENGINE = ReplacingMergeTree[(ver)] PARTITION BY … ORDER BY …
-- (the "new" MergeTree syntax, already in 18.16), DateTime('UTC'), Enum8, Nested, SELECT … FINAL, argMax.
--
-- Why ReplacingMergeTree: the sink commits Kafka offsets only after ClickHouse acknowledged a batch, so a
-- crash between the two replays the batch (and a large INSERT that failed may have stored its first blocks).
-- Rows with the same ORDER BY key (the event id, or the window) are the same fact, and merges keep one of
-- them. Merges run in the background, at no fixed time: until then the duplicates are stored and a plain
-- count() or sum() counts them. The queries that are exact whatever the merge state:
--   SELECT … FROM t FINAL …           collapses duplicates while reading (costs a merge at read time);
--   a GROUP BY on the key first       SELECT … FROM (SELECT event_id, any(x) AS … FROM t GROUP BY event_id);
--   argMax(col, version) per window   the row with the highest version of each window (order_stats);
--   uniqExact(event_id)               the number of distinct events.
-- (See README "ClickHouse (for analytics)" for the queries.) Do not rely on an INSERT collapsing
-- duplicates: current releases do it within one INSERT block (optimize_on_insert), 18.16 never does.
-- OPTIMIZE TABLE t FINAL forces the merge (both versions), but only within each partition (SELECT … FINAL
-- collapses across partitions in both): duplicates must land in the same partition, so the partition key is
-- computed from the row's own content (the event's time, the window's start), never from the time of the
-- insert.
-- Aliases: an alias equal to a column name that another aggregate of the same SELECT reads is an error in
-- both ("Aggregate function max(version) is found inside another aggregate function"): write
-- argMax(orders, version) AS last_orders, max(version) AS last_version, not … AS version.
--
-- Values the sink sends in JSONEachRow (`INSERT INTO orderflow.orders FORMAT JSONEachRow`), one object per
-- row with exactly the columns below except occurred_at (MATERIALIZED):
--   every field, never null: both versions store 0 or '' for a null or a missing field instead of refusing
--   the row, so a forgotten field would pass unnoticed;
--   no other field: 18.16 refuses a row with an unknown field, current releases ignore it
--   (input_format_skip_unknown_fields is 0 in 18.16, 1 in current releases);
--   occurred_at_ms: the event's occurred_at as milliseconds since 1970-01-01T00:00:00Z (a JSON number);
--   window_start / window_end: Unix seconds (a JSON number, read as a Unix time by both, whatever the
--   server's time zone);
--   64-bit integers as JSON numbers (accepted by both; on output 18.16 quotes them, "123", current
--   releases do not: output_format_json_quote_64bit_integers 1 vs 0, so a reader accepts both).
-- A row that does not fit (a string where a number goes, an unknown status) makes the whole INSERT fail
-- with an HTTP error status (500 on 18.16) and a message naming the row ("at row N"); no row of that insert
-- is stored (both versions, for a batch far below max_insert_block_size rows): the sink dead-letters the
-- bad row and sends the rest again.

CREATE DATABASE IF NOT EXISTS orderflow;

-- One row per OrderCreated event (topic `orders`).
CREATE TABLE IF NOT EXISTS orderflow.orders
(
    -- the event's event_id as received: a String, not UUID, because the contract accepts either case and
    -- treats ids as text (derived ids hash it without case folding); UUID would fold the case
    event_id        String,
    order_id        String,
    customer_id     String,
    amount_cents    Int64,
    currency        String,   -- ISO 4217, 3 upper-case letters; not FixedString(3), which pads a shorter
                              -- value with NUL bytes without an error
    occurred_at_ms  Int64,    -- the event's occurred_at, milliseconds since the epoch (UTC)
    occurred_at     DateTime('UTC') MATERIALIZED toDateTime(intDiv(occurred_at_ms, 1000), 'UTC'),
    kafka_partition Int32,    -- where the sink read it: lets a row be traced back to its record
    kafka_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;

-- One row per PaymentProcessed event (topic `payments`). event_id = payment_id.
-- No version column in the two raw tables: a replayed row is the same record again (at most its
-- kafka_offset differs, when the same event was published twice); which copy survives does not matter.
CREATE TABLE IF NOT EXISTS orderflow.payments
(
    event_id        String,
    order_id        String,
    order_event_id  String,   -- the order's event_id
    customer_id     String,
    status          Enum8('AUTHORIZED' = 1, 'DECLINED' = 2),
    decline_reason  String,   -- '' when AUTHORIZED (not Nullable: see "no nulls" above)
    amount_cents    Int64,
    currency        String,
    occurred_at_ms  Int64,
    occurred_at     DateTime('UTC') MATERIALIZED toDateTime(intDiv(occurred_at_ms, 1000), 'UTC'),
    kafka_partition Int32,
    kafka_offset    Int64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;

-- One row per window [window_start, window_end) each time the sink emits it. Each row is the complete
-- aggregate of its window, never a delta: the row with the highest version replaces the others, so a window
-- re-emitted after more events arrived, or replayed after a crash, is counted once. The version grows with
-- every emission of a window (e.g. the emission time in milliseconds); a replay of the same emission carries
-- the same version and the same values. Several window lengths can share the table (the key includes
-- window_end).
CREATE TABLE IF NOT EXISTS orderflow.order_stats
(
    window_start       DateTime('UTC'),
    window_end         DateTime('UTC'),
    orders             UInt64,
    -- per currency: parallel arrays of equal length (ClickHouse refuses a row where they differ)
    by_currency        Nested(currency String, orders UInt64, amount_cents Int64),
    authorized         UInt64,   -- payments with status AUTHORIZED
    declined           UInt64,   -- payments with status DECLINED
    declined_by_reason Nested(reason String, payments UInt64),
    distinct_customers UInt64,   -- customers with at least one order in the window
    version            UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (window_start, window_end);
