-- rxsuite platform kit 4/5: Realtime. Prescription changes are broadcast as postgres_changes to subscribers
-- who may see the row (Supabase Realtime applies the select policies above per subscriber). Full replica
-- identity puts every column of the old row in updates and deletes, so a row leaving a subscriber's view
-- (a pharmacist's paid prescription becoming dispensed) is still judged on its columns.

alter table public.prescriptions replica identity full;

do $$
begin
    if not exists (select 1 from pg_publication_tables
                   where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'prescriptions') then
        alter publication supabase_realtime add table public.prescriptions;
    end if;
end;
$$;
