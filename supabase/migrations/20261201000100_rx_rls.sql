-- rxsuite platform kit 2/5: row-level security. Who sees and changes which rows:
--   patient     their own prescriptions, payments and events; requests prescriptions for themselves
--   doctor      the prescriptions assigned to them; decides requested ones
--   pharmacist  approved and paid prescriptions; dispenses paid ones
--   service_role  everything (BYPASSRLS), e.g. the payment webhook
-- The rx role comes from the access token (GoTrue copies auth.users.raw_app_meta_data into the JWT's
-- app_metadata), so no policy needs a table lookup. `(select ...)` lets PostgreSQL evaluate it once per statement.
-- A user reads the prescriptions where they are the patient or the assigned doctor (whatever their role: only a
-- patient can create a row naming themself as patient, and only a doctor is ever assigned).

create function public.rx_role() returns text
language sql stable set search_path = '' as $$
    select auth.jwt() -> 'app_metadata' ->> 'rx_role'
$$;

-- The prescriptions a pharmacist may read, as an array of ids, empty for anyone else. Written as `id = any(...)`
-- the pharmacists' policy stays an index condition the planner expects to match a few rows, so each caller's query
-- uses the indexes of the policy that applies to them (patient_id, doctor_id, the primary key); a status test
-- OR'ed with the others would make every caller's query scan the whole table. Security definer: it reads the
-- table as its owner, so it does not recurse into these policies.
create function public.rx_pharmacy_queue() returns uuid[]
language plpgsql stable security definer set search_path = '' as $$
begin
    if public.rx_role() is distinct from 'pharmacist' then
        return '{}';
    end if;
    return (select coalesce(array_agg(id), '{}') from public.prescriptions where status in ('approved', 'paid'));
end;
$$;

alter table public.profiles enable row level security;
alter table public.medications enable row level security;
alter table public.prescriptions enable row level security;
alter table public.prescription_events enable row level security;
alter table public.payments enable row level security;

create policy "the medication catalogue is public" on public.medications
    for select to anon, authenticated using (true);

create policy "patients read their own prescriptions" on public.prescriptions
    for select to authenticated
    using (patient_id = (select auth.uid()));

create policy "doctors read the prescriptions assigned to them" on public.prescriptions
    for select to authenticated
    using (doctor_id = (select auth.uid()));

-- PostgreSQL checks an updated row against the select policies too (the update reads the row: its filter,
-- RETURNING), so a pharmacist's paid -> dispensed would fail if dispensed rows were never visible to them. A row
-- dispensed in the current transaction (the status-flow trigger stamps updated_at with now(), the transaction's
-- start) stays readable in it: PATCH and supabase-js .update().select() return it; later it is out of sight.
-- (prescriptions_updated_idx keeps that test an index probe.)
create policy "pharmacists read approved and paid prescriptions" on public.prescriptions
    for select to authenticated
    using (id = any ((select public.rx_pharmacy_queue())::uuid[])
           or (updated_at = now() and status = 'dispensed' and (select public.rx_role()) = 'pharmacist'));

create policy "patients request prescriptions for themselves" on public.prescriptions
    for insert to authenticated
    with check ((select public.rx_role()) = 'patient' and patient_id = (select auth.uid()) and status = 'requested');

-- Which status change each role may make is the status-flow trigger's rule; these say which rows each may address
-- (so an approved prescription a pharmacist sees but may not dispense yet is a 409 from the trigger, not a 404).
-- A patient may address their own rows, and the trigger refuses them any change (42501), as PostgREST shows it.
create policy "patients address their own prescriptions" on public.prescriptions
    for update to authenticated
    using ((select public.rx_role()) = 'patient' and patient_id = (select auth.uid()));

create policy "doctors change the prescriptions assigned to them" on public.prescriptions
    for update to authenticated
    using ((select public.rx_role()) = 'doctor' and doctor_id = (select auth.uid()))
    with check ((select public.rx_role()) = 'doctor' and doctor_id = (select auth.uid()));

create policy "pharmacists change the prescriptions they see" on public.prescriptions
    for update to authenticated
    using ((select public.rx_role()) = 'pharmacist' and status in ('approved', 'paid'))
    with check ((select public.rx_role()) = 'pharmacist');

-- Events and payments follow their prescription: the subquery runs under the caller's prescription policies.
create policy "events are visible with their prescription" on public.prescription_events
    for select to authenticated
    using (exists (select 1 from public.prescriptions p where p.id = prescription_id));

create policy "payments are visible to their patient and with their prescription" on public.payments
    for select to authenticated
    using (patient_id = (select auth.uid())
           or exists (select 1 from public.prescriptions p where p.id = prescription_id));

-- Everyone sees their own profile and the staff (a renewal names a doctor); patients' profiles only through a
-- prescription the caller can see (a doctor sees their patients' names, a patient their doctor's).
create policy "profiles are visible to oneself, doctors to all, others through a prescription" on public.profiles
    for select to authenticated
    using (id = (select auth.uid())
           or role in ('doctor', 'pharmacist')
           or exists (select 1 from public.prescriptions p where p.patient_id = profiles.id));
