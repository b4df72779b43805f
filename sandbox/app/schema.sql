-- What only the sandbox adds on top of the platform kit (supabase/migrations, applied first): the change
-- notifications its Realtime server listens to. On Supabase, Realtime reads the `supabase_realtime` publication
-- instead. Idempotent: applying it twice is harmless.

-- Every change to a prescription is announced on channel rx_changes, delivered at commit.
-- The timestamp is taken inside the committing transaction (clock_timestamp), the closest a trigger
-- can get to the commit time.
CREATE OR REPLACE FUNCTION rx_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rx_changes', json_build_object(
        'schema', TG_TABLE_SCHEMA,
        'table', TG_TABLE_NAME,
        'type', TG_OP,
        'commit_timestamp',
            to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'new', CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END,
        'old', CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END
    )::text);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER prescriptions_notify
    AFTER INSERT OR UPDATE OR DELETE ON prescriptions
    FOR EACH ROW EXECUTE FUNCTION rx_notify_change();
