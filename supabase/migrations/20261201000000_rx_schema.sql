-- rxsuite platform kit 1/5: the tables the suite exercises.
-- Users live in Supabase's auth.users; public.profiles carries each user's rx role and name, created by a trigger
-- from the metadata GoTrue's admin API stores (`rxsuite accounts create` sets app_metadata.rx_role).

create table public.profiles (
    id uuid primary key references auth.users (id) on delete cascade,
    email text not null,
    role text check (role in ('patient', 'doctor', 'pharmacist')),
    display_name text not null,
    created_at timestamptz not null default now()
);
create index profiles_role_idx on public.profiles (role);

create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.profiles (id, email, role, display_name)
    values (new.id, new.email, new.raw_app_meta_data ->> 'rx_role',
            coalesce(nullif(new.raw_user_meta_data ->> 'display_name', ''), split_part(new.email, '@', 1)));
    return new;
end;
$$;

create trigger on_auth_user_created
    after insert on auth.users
    for each row execute function public.handle_new_user();

create table public.medications (
    id uuid primary key default gen_random_uuid(),
    name text not null,
    form text not null,
    strength text not null,
    price_cents integer not null check (price_cents > 0)
);

create table public.prescriptions (
    id uuid primary key default gen_random_uuid(),
    patient_id uuid not null references public.profiles (id),
    doctor_id uuid not null references public.profiles (id),
    medication_id uuid not null references public.medications (id),
    status text not null default 'requested'
        check (status in ('requested', 'approved', 'rejected', 'paid', 'dispensed')),
    quantity integer not null default 1 check (quantity between 1 and 1000),
    notes text check (length(notes) <= 1000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index prescriptions_patient_idx on public.prescriptions (patient_id, created_at desc);
create index prescriptions_doctor_idx on public.prescriptions (doctor_id, status);
create index prescriptions_status_idx on public.prescriptions (status, created_at);
create index prescriptions_updated_idx on public.prescriptions (updated_at);

-- The audit trail of status changes: written by the status-flow trigger only (20261201000200_rx_status_flow.sql).
create table public.prescription_events (
    id bigint generated always as identity primary key,
    prescription_id uuid not null references public.prescriptions (id),
    from_status text,
    to_status text not null,
    actor_id uuid references public.profiles (id),
    created_at timestamptz not null default clock_timestamp()
);
create index prescription_events_rx_idx on public.prescription_events (prescription_id, id);

-- Written by the payment Edge Functions and the provider's webhook (service role).
create table public.payments (
    id uuid primary key default gen_random_uuid(),
    prescription_id uuid not null references public.prescriptions (id),
    patient_id uuid not null references public.profiles (id),
    provider_intent_id text not null unique,
    amount_cents integer not null check (amount_cents > 0),
    currency text not null default 'usd',
    status text not null default 'requires_payment_method'
        check (status in ('requires_payment_method', 'processing', 'succeeded', 'failed', 'canceled')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index payments_patient_idx on public.payments (patient_id, created_at desc);
create index payments_rx_idx on public.payments (prescription_id);

-- Privileges: Supabase's default privileges give anon and authenticated everything on new tables; the kit
-- narrows them to what the policies are written for, so anything else is "permission denied" (42501).
revoke all on public.profiles, public.medications, public.prescriptions, public.prescription_events,
    public.payments from anon, authenticated;
grant usage on schema public to anon, authenticated, service_role;
grant select on public.medications to anon, authenticated;
grant select on public.profiles, public.prescription_events, public.payments to authenticated;
grant select on public.prescriptions to authenticated;
grant insert (patient_id, doctor_id, medication_id, status, quantity, notes) on public.prescriptions to authenticated;
grant update (status, notes) on public.prescriptions to authenticated;
grant all on public.profiles, public.medications, public.prescriptions, public.prescription_events,
    public.payments to service_role;
