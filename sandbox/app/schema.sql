-- The sandbox platform's schema. Idempotent: applying it twice is harmless.

CREATE TABLE IF NOT EXISTS users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL UNIQUE CHECK (email = lower(email)),
    role text NOT NULL CHECK (role IN ('patient', 'doctor', 'pharmacist')),
    password_hash text NOT NULL,
    display_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE IF NOT EXISTS medications (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    form text NOT NULL,
    strength text NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents > 0)
);

CREATE TABLE IF NOT EXISTS prescriptions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id uuid NOT NULL REFERENCES users (id),
    doctor_id uuid NOT NULL REFERENCES users (id),
    medication_id uuid NOT NULL REFERENCES medications (id),
    status text NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'approved', 'rejected', 'paid', 'dispensed')),
    quantity integer NOT NULL DEFAULT 1 CHECK (quantity BETWEEN 1 AND 1000),
    notes text CHECK (length(notes) <= 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS prescriptions_patient_idx ON prescriptions (patient_id, created_at DESC);
CREATE INDEX IF NOT EXISTS prescriptions_doctor_idx ON prescriptions (doctor_id, status);
CREATE INDEX IF NOT EXISTS prescriptions_status_idx ON prescriptions (status, created_at);

CREATE TABLE IF NOT EXISTS prescription_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prescription_id uuid NOT NULL REFERENCES prescriptions (id),
    from_status text,
    to_status text NOT NULL,
    actor_id uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS prescription_events_rx_idx ON prescription_events (prescription_id, id);

CREATE TABLE IF NOT EXISTS payments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    prescription_id uuid NOT NULL REFERENCES prescriptions (id),
    patient_id uuid NOT NULL REFERENCES users (id),
    provider_intent_id text NOT NULL UNIQUE,
    amount_cents integer NOT NULL CHECK (amount_cents > 0),
    currency text NOT NULL DEFAULT 'usd',
    status text NOT NULL DEFAULT 'requires_payment_method'
        CHECK (status IN ('requires_payment_method', 'processing', 'succeeded', 'failed', 'canceled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_patient_idx ON payments (patient_id, created_at DESC);
CREATE INDEX IF NOT EXISTS payments_rx_idx ON payments (prescription_id);

-- The DR drill's write ledger: each acknowledged row is evidence of a write the platform confirmed.
CREATE TABLE IF NOT EXISTS probe_writes (
    seq bigint NOT NULL,
    run_id text NOT NULL,
    payload text,
    acknowledged_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq)
);

-- Realtime: every change to a prescription is announced on channel rx_changes, delivered at commit.
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
