-- The SQLite schema at migrations.HEAD, as Alembic creates it (written by
-- `python -m podium.migrations.dump`; tests/test_migrations.py checks they agree).
-- A new store is created from this file, which skips importing SQLAlchemy and Alembic.
CREATE TABLE podium_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT podium_version_pkc PRIMARY KEY (version_num)
);
--
CREATE TABLE podium_runs (
	run_id VARCHAR(128) NOT NULL, 
	workflow TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	started_at FLOAT NOT NULL, 
	finished_at FLOAT, 
	total INTEGER DEFAULT '0' NOT NULL, 
	counts TEXT, 
	stats TEXT, 
	definition TEXT, 
	owner TEXT, 
	sessions INTEGER DEFAULT '1' NOT NULL, lease_expires FLOAT, cancel_requested INTEGER DEFAULT '0' NOT NULL, 
	PRIMARY KEY (run_id)
);
--
CREATE INDEX podium_runs_started_at ON podium_runs (started_at);
--
CREATE TABLE podium_transitions (
	run_id VARCHAR(128) NOT NULL, 
	seq BIGINT NOT NULL, 
	task_id TEXT, 
	status VARCHAR(16) NOT NULL, 
	attempt INTEGER, 
	agent TEXT, 
	started_at FLOAT, 
	finished_at FLOAT, 
	result TEXT, 
	error TEXT, 
	note TEXT, 
	CONSTRAINT podium_transitions_pk PRIMARY KEY (run_id, seq)
)
 WITHOUT ROWID;
--
CREATE TABLE podium_cache (
	"key" VARCHAR(128) NOT NULL, 
	route TEXT NOT NULL, 
	result TEXT, 
	run_id VARCHAR(128), 
	task_id TEXT, 
	agent TEXT, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY ("key")
);
--
CREATE TABLE podium_keys (
	key_id VARCHAR(64) NOT NULL, 
	name TEXT, 
	role VARCHAR(16) NOT NULL, 
	hash TEXT NOT NULL, 
	rate_limit FLOAT, 
	created_at FLOAT NOT NULL, 
	revoked_at FLOAT, 
	PRIMARY KEY (key_id)
);
--
CREATE TABLE podium_idempotency (
	"key" VARCHAR(300) NOT NULL, 
	run_id VARCHAR(128) NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY ("key")
);
--
CREATE TABLE podium_agents (
	name VARCHAR(128) NOT NULL, 
	spec TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	PRIMARY KEY (name)
);
--
