-- rxsuite platform kit 5/5: the DR drill's write ledger. Each acknowledged row is evidence of a write the
-- platform confirmed; after a failover or restore the drill counts which survived (RPO). Service role only:
-- row-level security is on with no policy, and anon/authenticated hold no privilege (42501, HTTP 403).

create table public.probe_writes (
    seq bigint not null,
    run_id text not null,
    payload text,
    acknowledged_at timestamptz not null default clock_timestamp(),
    primary key (run_id, seq)
);
alter table public.probe_writes enable row level security;
revoke all on public.probe_writes from anon, authenticated;
grant all on public.probe_writes to service_role;
