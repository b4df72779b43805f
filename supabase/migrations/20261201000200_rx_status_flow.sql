-- rxsuite platform kit 3/5: the prescription status flow, enforced by the database for every client.
--   requested -> approved | rejected   the assigned doctor
--   approved  -> paid                  the service role (the payment provider's webhook)
--   paid      -> dispensed             a pharmacist
-- A role with no transition (a patient) changing the status gets 42501 (HTTP 403 through PostgREST); a role
-- making a transition it may not make gets PT409 (PostgREST answers HTTP 409). Only the doctor may edit notes.
-- Every status change, and every new prescription, writes a prescription_events row in the same transaction.

create table public.prescription_transitions (
    role text not null,
    from_status text not null,
    to_status text not null,
    primary key (role, from_status, to_status)
);
insert into public.prescription_transitions (role, from_status, to_status) values
    ('doctor', 'requested', 'approved'),
    ('doctor', 'requested', 'rejected'),
    ('pharmacist', 'paid', 'dispensed'),
    ('service_role', 'requested', 'approved'),
    ('service_role', 'requested', 'rejected'),
    ('service_role', 'approved', 'paid'),
    ('service_role', 'paid', 'dispensed');
alter table public.prescription_transitions enable row level security;
revoke all on public.prescription_transitions from anon, authenticated;
grant select on public.prescription_transitions to authenticated, service_role;
create policy "the status flow is public to signed-in users" on public.prescription_transitions
    for select to authenticated using (true);

-- The role of the request: the rx role of a signed-in user, else the API role; a session without JWT claims
-- (the SQL editor, a migration, a database-owner connection) counts as the service role.
create function public.rx_request_role() returns text
language sql stable set search_path = '' as $$
    select case auth.role() when 'authenticated' then public.rx_role() else coalesce(auth.role(), 'service_role') end
$$;

create function public.rx_check_status_flow() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    who text := public.rx_request_role();
begin
    if new.status is distinct from old.status then
        if not exists (select 1 from public.prescription_transitions t where t.role = who) then
            raise exception 'a % may not change the status of a prescription', coalesce(who, 'caller without a role')
                using errcode = '42501';
        end if;
        if not exists (select 1 from public.prescription_transitions t
                       where t.role = who and t.from_status = old.status and t.to_status = new.status) then
            raise exception 'invalid status transition from % to % for a %', old.status, new.status, who
                using errcode = 'PT409',
                      detail = json_build_object('id', old.id, 'status', old.status)::text,
                      hint = 'see public.prescription_transitions';
        end if;
    end if;
    if new.notes is distinct from old.notes and who not in ('doctor', 'service_role') then
        raise exception 'only the prescribing doctor may change the notes of a prescription' using errcode = '42501';
    end if;
    new.updated_at := now();
    return new;
end;
$$;

create trigger prescriptions_status_flow
    before update on public.prescriptions
    for each row execute function public.rx_check_status_flow();

-- The actor is the signed-in user; without one (the webhook) the patient, whose act a request or payment is.
create function public.rx_record_status_event() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
    insert into public.prescription_events (prescription_id, from_status, to_status, actor_id)
    values (new.id, case when tg_op = 'UPDATE' then old.status end, new.status,
            coalesce(auth.uid(), case when new.status in ('requested', 'paid') then new.patient_id end));
    return null;
end;
$$;

create trigger prescriptions_event_on_insert
    after insert on public.prescriptions
    for each row execute function public.rx_record_status_event();

create trigger prescriptions_event_on_status
    after update of status on public.prescriptions
    for each row when (old.status is distinct from new.status)
    execute function public.rx_record_status_event();
