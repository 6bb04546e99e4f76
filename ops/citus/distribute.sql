-- The registry's schema (migrations 0001-0005, run first on the Citus coordinator) made
-- distributed by kode_provinsi: every per-provinsi write, read and aggregate routes to the one
-- shard group holding that provinsi. See docs/operations.md ("Scale-out past one primary").
--
--   psql -h COORDINATOR -d kumkm -v ON_ERROR_STOP=1 -f ops/citus/distribute.sql
--
-- What it does not carry over, and why, is in docs/operations.md: the status counters'
-- statement triggers (Citus runs no transition-table triggers on shards), the single-statement
-- multi-table ingest of app/submissions/queries.py (a multi-shard modifying CTE), and the
-- one-horizon national change feed (transaction ids are per node).

BEGIN;
-- Row triggers (api_keys' key-change NOTIFY, the history's append-only guard) are created on
-- every shard or placement; Citus asks for this to be said explicitly.
SET LOCAL citus.enable_unsafe_triggers = on;

-- 1. Reference tables: small, read by joins everywhere, copied to every node. Referenced
--    tables first (a foreign key from a reference table must point at a reference table).
SELECT create_reference_table('periode');
SELECT create_reference_table('wilayah');
-- The key-change NOTIFY trigger (migration 0005) would fire on every node's placement of the
-- reference table, and a worker cannot PREPARE (two-phase commit) a transaction that ran
-- NOTIFY: every key change would fail. On Citus the service notifies on the coordinator in
-- the key change's own transaction instead (app/keys/service.py), where its listener is.
DROP TRIGGER api_keys_changed ON api_keys;
SELECT create_reference_table('api_keys');
SELECT create_reference_table('target_pendataan');
SELECT create_reference_table('tujuan');
SELECT create_reference_table('sasaran');
SELECT create_reference_table('indikator');
SELECT create_reference_table('indikator_target');
SELECT create_reference_table('indikator_realisasi');
SELECT create_reference_table('predikat_bawaan');
SELECT create_reference_table('predikat_skala');
SELECT create_reference_table('predikat_skala_band');
-- access_log and alembic_version stay ordinary tables on the coordinator: written by the
-- service beside the records, never joined with them.

-- 2. The record tables carry kode_provinsi and have it in every unique key: Citus enforces a
--    unique key only within a shard, so the key must contain the distribution column.
ALTER TABLE submission_versions ADD COLUMN kode_provinsi text;
UPDATE submission_versions v SET kode_provinsi = s.kode_provinsi
FROM submissions s WHERE s.submission_id = v.submission_id;
ALTER TABLE submission_versions ALTER COLUMN kode_provinsi SET NOT NULL;

ALTER TABLE submission_history ADD COLUMN kode_provinsi text;
ALTER TABLE submission_history DISABLE TRIGGER submission_history_no_rewrite;
UPDATE submission_history h SET kode_provinsi = s.kode_provinsi
FROM submissions s WHERE s.submission_id = h.submission_id;
ALTER TABLE submission_history ENABLE TRIGGER submission_history_no_rewrite;
ALTER TABLE submission_history ALTER COLUMN kode_provinsi SET NOT NULL;

ALTER TABLE rekap_status ADD COLUMN kode_provinsi text;
UPDATE rekap_status SET kode_provinsi = split_part(kode_kabkota, '.', 1);
ALTER TABLE rekap_status ALTER COLUMN kode_provinsi SET NOT NULL;

-- openrosa_instances (migration 0008) points at submissions (submission_id), a key that is
-- about to gain kode_provinsi: it becomes a table of its own distributed by instance_id (below)
-- and the directory stands for the foreign key (an edit names a record the directory holds).
ALTER TABLE openrosa_instances DROP CONSTRAINT openrosa_instances_submission_id_fkey;

ALTER TABLE submissions DROP CONSTRAINT submissions_pkey;
ALTER TABLE submissions ADD PRIMARY KEY (kode_provinsi, submission_id);
ALTER TABLE submission_versions DROP CONSTRAINT submission_versions_pkey;
ALTER TABLE submission_versions ADD PRIMARY KEY (kode_provinsi, submission_id, version);
ALTER TABLE submission_history DROP CONSTRAINT submission_history_pkey;
ALTER TABLE submission_history ADD PRIMARY KEY (kode_provinsi, id);
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD PRIMARY KEY (kode_provinsi, id);
ALTER TABLE sync_records DROP CONSTRAINT sync_records_pkey;
ALTER TABLE sync_records ADD PRIMARY KEY (kode_provinsi, submission_id);
ALTER TABLE rekap_status DROP CONSTRAINT rekap_status_pkey;
ALTER TABLE rekap_status ADD PRIMARY KEY (kode_provinsi, periode, kode_kabkota, status, shard);
-- The feed's order within a provinsi.
DROP INDEX changes_order;
CREATE INDEX changes_order ON changes (kode_provinsi, xid, id);

-- 3. Statement triggers with transition tables do not run on shards: the status counters are
--    kept by the writer's transaction instead (see the test's ingest), and recounted by a
--    parallel GROUP BY when in doubt. The append-only guard of the history is a row trigger
--    and stays, on every shard.
--    Since migration 0019 one trigger per event keeps every count of submissions (rekap_status,
--    rekap_harian, kinerja_enumerator) and fills the Basis Data Tunggal's linker queue; the
--    registry of entities and the campaign's tables are not kept on a Citus cluster yet
--    (docs/registry.md, docs/kampanye.md), so the whole trigger goes.
DROP TRIGGER submissions_pemicu_ins ON submissions;
DROP TRIGGER submissions_pemicu_upd ON submissions;
DROP TRIGGER submissions_pemicu_del ON submissions;

-- The walidata line is a function of its arguments only (to_char with a fixed numeric format,
-- AT TIME ZONE 'UTC'); migration 0007 declared it STABLE to be safe. Citus refuses a STABLE
-- function over columns in an UPDATE (it would have to evaluate it on the coordinator), and a
-- decision or correction rewrites the line with it: on the cluster it is declared what it is.
ALTER FUNCTION sync_record_line(uuid, text, text, text, text, text, text, integer, text, timestamptz,
                                text, text, text, timestamptz, timestamptz, jsonb, text) IMMUTABLE;

-- 4. One shard group per hash range of kode_provinsi, all record tables co-located: the rows
--    of one provinsi (record, versions, history, changes, line, counters) are on one node, so
--    a provinsi's transaction is a single-node transaction and its joins stay local.
SELECT create_distributed_table('submissions', 'kode_provinsi', shard_count => 32);
SELECT create_distributed_table('submission_versions', 'kode_provinsi', colocate_with => 'submissions');
SELECT create_distributed_table('submission_history', 'kode_provinsi', colocate_with => 'submissions');
SELECT create_distributed_table('changes', 'kode_provinsi', colocate_with => 'submissions');
SELECT create_distributed_table('sync_records', 'kode_provinsi', colocate_with => 'submissions');
SELECT create_distributed_table('rekap_status', 'kode_provinsi', colocate_with => 'submissions');

-- 5. submission_id stays unique across provinsi, and is found without asking every shard: a
--    directory distributed by submission_id itself. Its primary key is global (one id, one
--    shard); a lookup by id is a one-shard query that names the provinsi, and the record is
--    then read from that provinsi's shard: two routed queries, never a fan-out.
CREATE TABLE submission_ids (
    submission_id uuid PRIMARY KEY,
    kode_provinsi text NOT NULL
);
INSERT INTO submission_ids SELECT submission_id, kode_provinsi FROM submissions;
SELECT create_distributed_table('submission_ids', 'submission_id', shard_count => 32);
-- An OpenRosa edit is looked up by its own instanceID: one routed query, like the directory.
SELECT create_distributed_table('openrosa_instances', 'instance_id', colocate_with => 'submission_ids');

-- 6. The change feed of a provinsi is exactly once on the worker that holds it: its changes
--    carry that worker's transaction id (a row trigger on the shard overwrites the value the
--    coordinator computed for the column default) and the horizon is taken there too, by a
--    routed read of this one-row-per-provinsi table (app/sync/queries.py, HORIZON_CITUS).
CREATE FUNCTION changes_worker_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.xid := pg_current_xact_id();
    RETURN NEW;
END $$;
CREATE TRIGGER changes_worker_xid BEFORE INSERT ON changes
    FOR EACH ROW EXECUTE FUNCTION changes_worker_xid();

CREATE TABLE provinsi_feed (kode_provinsi text PRIMARY KEY);
SELECT create_distributed_table('provinsi_feed', 'kode_provinsi', colocate_with => 'submissions');
INSERT INTO provinsi_feed SELECT kode FROM wilayah WHERE level = 1;

COMMIT;
