-- What a Supabase project provides before any migration runs, reduced to what the kit (supabase/migrations) uses:
-- the `auth` schema with auth.uid(), auth.role(), auth.jwt() (reading the request's JWT claims the way
-- PostgREST sets them: set_config('request.jwt.claims', <json>, true)), and auth.users, here also holding the
-- sandbox's GoTrue-like password hashes and refresh tokens (sandbox only). Applied by the database owner;
-- the roles and the publication, which need a superuser, are created by sandbox.app.migrations.
-- Idempotent: applying it twice is harmless.

CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

-- As Supabase's GoTrue migrations define them (the single-claim settings first, for older PostgREST), with
-- nullif around each setting: on a pooled connection a setting made local by an earlier transaction reads ''.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                           nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'), '')::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                           nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'), '')::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;

-- auth.users: Supabase's columns the kit reads (id, email, raw_app_meta_data, raw_user_meta_data, created_at)
-- and deleted_at (set by GoTrue's soft delete, which keeps the row for the rows that reference it), plus the
-- sandbox's own, from which the metadata is derived: role (the rx role, where Supabase keeps 'authenticated'; the
-- kit never reads it), password_hash ('' once soft-deleted: no password verifies) and display_name.
CREATE TABLE IF NOT EXISTS auth.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL UNIQUE CHECK (email = lower(email)),
    role text NOT NULL CHECK (role IN ('patient', 'doctor', 'pharmacist')),
    password_hash text NOT NULL,
    display_name text NOT NULL,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
ALTER TABLE auth.users ADD COLUMN IF NOT EXISTS deleted_at timestamptz;  -- a database built before it existed

-- GoTrue fills the metadata from the admin API's app_metadata/user_metadata, and empties both on soft delete;
-- here it follows the sandbox's columns.
CREATE OR REPLACE FUNCTION auth.sync_user_metadata() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.deleted_at IS NOT NULL THEN
        NEW.raw_app_meta_data := '{}';
        NEW.raw_user_meta_data := '{}';
    ELSE
        NEW.raw_app_meta_data := jsonb_build_object('provider', 'email', 'rx_role', NEW.role);
        NEW.raw_user_meta_data := jsonb_build_object('display_name', NEW.display_name);
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER users_metadata
    BEFORE INSERT OR UPDATE ON auth.users
    FOR EACH ROW EXECUTE FUNCTION auth.sync_user_metadata();

CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_user_idx ON auth.refresh_tokens (user_id);

-- The Supabase CLI's record of applied migrations (`supabase migration list` reads it).
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (
    version text PRIMARY KEY,
    name text,
    statements text[]
);
