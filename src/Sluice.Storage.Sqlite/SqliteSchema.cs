namespace Sluice.Storage.Sqlite;

/// <summary>The layouts of <c>sluice.db</c>, as forward migrations; <see cref="SqliteDatabase"/> applies them at start.</summary>
internal static class SqliteSchema
{
    // Forward migrations, one per version; append, never edit a landed one. Version 1 is the layout of the
    // builds before versioning (55b0c8c), written with IF NOT EXISTS so that it also stamps their files.
    public static readonly string[] Migrations = [Version1];

    private const string Version1 = """
        CREATE TABLE IF NOT EXISTS streams(
            sk INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            stream_id TEXT NOT NULL,
            first_id INTEGER NOT NULL,
            last_id INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            closed_at INTEGER,
            last_event_at INTEGER NOT NULL,
            UNIQUE(tenant, stream_id));
        CREATE INDEX IF NOT EXISTS streams_last_event_at ON streams(last_event_at);
        CREATE TABLE IF NOT EXISTS events(
            sk INTEGER NOT NULL,
            id INTEGER NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            ts INTEGER NOT NULL,
            PRIMARY KEY(sk, id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS api_keys(
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            roles INTEGER NOT NULL,
            name TEXT,
            hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            expires_at INTEGER,
            revoked_at INTEGER);
        CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys(tenant, created_at);
        CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS generations(
            tenant TEXT NOT NULL,
            id TEXT NOT NULL,
            status INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            completed_at INTEGER,
            record TEXT NOT NULL,
            PRIMARY KEY(tenant, id)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS generations_tenant_created ON generations(tenant, created_at DESC);
        CREATE INDEX IF NOT EXISTS generations_tenant_status ON generations(tenant, status, created_at DESC);
        CREATE INDEX IF NOT EXISTS generations_completed ON generations(completed_at) WHERE completed_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS idempotency_keys(
            tenant TEXT NOT NULL,
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            generation_id TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY(tenant, key)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS prompt_versions(
            tenant TEXT NOT NULL,
            prompt_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            template TEXT NOT NULL,
            model TEXT,
            params TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY(tenant, prompt_id, version)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS audit(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            actor_key_id TEXT NOT NULL,
            actor_tenant TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            reason TEXT,
            trace_id TEXT,
            before TEXT,
            after TEXT);
        CREATE INDEX IF NOT EXISTS audit_at ON audit(at DESC);
        CREATE TABLE IF NOT EXISTS trace_events(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL,
            trace_id TEXT,
            tenant TEXT,
            generation_id TEXT,
            detail TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS trace_events_at ON trace_events(at);
        DROP INDEX IF EXISTS trace_events_kind;
        CREATE INDEX IF NOT EXISTS trace_events_kind_tenant ON trace_events(kind, at, tenant);
        CREATE INDEX IF NOT EXISTS trace_events_tenant ON trace_events(tenant, at);
        CREATE INDEX IF NOT EXISTS trace_events_trace ON trace_events(trace_id, at);
        CREATE INDEX IF NOT EXISTS trace_events_generation ON trace_events(generation_id, at);
        CREATE TABLE IF NOT EXISTS ops_metrics_hourly(
            hour INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            channel TEXT NOT NULL,
            requests INTEGER NOT NULL,
            errors TEXT NOT NULL,
            sse_connections INTEGER NOT NULL,
            resume_attempts INTEGER NOT NULL,
            resume_failures INTEGER NOT NULL,
            ttft_p95_ms REAL,
            e2e_p95_ms REAL,
            output_tokens INTEGER NOT NULL,
            PRIMARY KEY(hour, tenant, channel)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS kill_switches(
            provider TEXT PRIMARY KEY,
            since INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            reason TEXT,
            actor_key_id TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ops_idempotency(
            scope TEXT PRIMARY KEY,
            request_hash TEXT NOT NULL,
            claimed_at INTEGER NOT NULL,
            status INTEGER,
            content_type TEXT,
            body BLOB) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ops_idempotency_claimed ON ops_idempotency(claimed_at);
        CREATE TABLE IF NOT EXISTS prompts(
            tenant TEXT NOT NULL,
            prompt_id TEXT NOT NULL,
            active_version INTEGER,
            PRIMARY KEY(tenant, prompt_id)) WITHOUT ROWID;
        """;
}
