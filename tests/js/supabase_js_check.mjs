// Drives the official supabase-js client, unchanged, against a Supabase-shaped platform (the sandbox in
// tests/test_supabase_clients.py) and prints one JSON report on stdout for the Python test to assert on.
// Input (environment): SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_KEY, and PATIENT, OTHER_PATIENT, DOCTOR
// as JSON credentials rows ({email, password, user_id}). Every row it reads back it created itself.
import { randomUUID } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

const url = process.env.SUPABASE_URL
const anonKey = process.env.SUPABASE_ANON_KEY
const serviceKey = process.env.SUPABASE_SERVICE_KEY
const patient = JSON.parse(process.env.PATIENT)
const otherPatient = JSON.parse(process.env.OTHER_PATIENT)
const doctor = JSON.parse(process.env.DOCTOR)
const EVENT_WAIT_MS = 15000

// Node 20 has no global WebSocket: realtime-js takes the `ws` package as its transport.
const options = {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: WebSocket },
}
const newClient = (key = anonKey) => createClient(url, key, options)

function must({ data, error }, what) {
  if (error) throw new Error(`${what}: ${JSON.stringify(error)}`)
  return data
}

async function signedIn(account) {
  const client = newClient()
  must(await client.auth.signInWithPassword({ email: account.email, password: account.password }), 'sign in')
  return client
}

function within(ms, promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function auth() {
  const client = newClient()
  const credentials = { email: patient.email, password: patient.password }
  const first = must(await client.auth.signInWithPassword(credentials), 'sign in')
  const current = must(await client.auth.getUser(), 'get user')
  const refreshed = must(await client.auth.refreshSession(), 'refresh')
  const { error: signOutError } = await client.auth.signOut()
  const reuse = await newClient().auth.refreshSession({ refresh_token: refreshed.session.refresh_token })
  const wrong = await newClient().auth.signInWithPassword({ ...credentials, password: 'not-the-password' })
  return {
    user_id: first.user.id,
    get_user_id: current.user.id,
    refreshed_token_changed: refreshed.session.refresh_token !== first.session.refresh_token,
    sign_out_error: signOutError ? signOutError.message : null,
    reuse_after_sign_out: { status: reuse.error?.status, code: reuse.error?.code },
    wrong_password: { status: wrong.error?.status, code: wrong.error?.code, message: wrong.error?.message },
  }
}

async function rest(p, d) {
  const tag = `compat-js-${randomUUID().slice(0, 12)}`
  const medication = must(
    await p.from('medications').select('id,price_cents').order('name').limit(1).single(), 'medication')
  const rows = [1, 2, 3].map((quantity) => ({
    medication_id: medication.id, doctor_id: doctor.user_id, quantity, notes: `${tag}-${quantity}`,
  }))
  const inserted = must(await p.from('prescriptions').insert(rows).select(), 'insert')
  const mine = () => p.from('prescriptions').select('quantity').like('notes', `${tag}-*`)
  const quantities = async (query, what) => must(await query, what).map((r) => r.quantity).sort()

  const singleMany = await p.from('prescriptions').select('id').like('notes', `${tag}-*`).single()
  const maybeNone = await p.from('prescriptions').select('id').eq('notes', `${tag}-9`).maybeSingle()
  const exact = await p.from('prescriptions').select('id', { count: 'exact' }).like('notes', `${tag}-*`)
  const head = await p.from('prescriptions').select('id', { count: 'exact', head: true }).like('notes', `${tag}-*`)
  const range = await p.from('prescriptions').select('quantity', { count: 'exact' }).like('notes', `${tag}-*`)
    .order('quantity').range(1, 2)
  const updated = await d.from('prescriptions').update({ status: 'approved' }, { count: 'exact' })
    .eq('id', inserted[0].id).select().single()
  const unknown = await p.from('prescriptions').select('no_such_column')

  const ledger = newClient(serviceKey).from('probe_writes')
  const runId = `compat-js-${randomUUID().slice(0, 12)}`
  must(await ledger.upsert({ run_id: runId, seq: 1, payload: 'a' }, { onConflict: 'run_id,seq' }).select(), 'upsert')
  const merged = must(
    await ledger.upsert({ run_id: runId, seq: 1, payload: 'b' }, { onConflict: 'run_id,seq' }).select(), 'merge')
  const ignored = must(await ledger.upsert(
    [{ run_id: runId, seq: 1, payload: 'c' }, { run_id: runId, seq: 2, payload: 'd' }],
    { onConflict: 'run_id,seq', ignoreDuplicates: true }).select(), 'ignore')
  const after = must(await ledger.select('seq,payload').eq('run_id', runId).order('seq'), 'ledger')

  return {
    tag,
    rows: inserted,
    price_cents: medication.price_cents,
    report: {
      inserted_quantities: inserted.map((r) => r.quantity).sort(),
      filtered_desc: must(await mine().gte('quantity', 2).order('quantity', { ascending: false }), 'filter')
        .map((r) => r.quantity),
      or_: await quantities(mine().or('quantity.eq.1,quantity.eq.3'), 'or'),
      nested_or_and: await quantities(mine().or('and(quantity.gte.2,quantity.lte.2),notes.is.null'), 'nested'),
      not_eq: await quantities(mine().not('quantity', 'eq', 2), 'not'),
      is_null: await quantities(mine().is('doctor_id', null), 'is'),
      single: must(await mine().eq('notes', `${tag}-2`).single(), 'single'),
      single_many: {
        status: singleMany.status, code: singleMany.error?.code, message: singleMany.error?.message,
        details: singleMany.error?.details,
      },
      maybe_single_none: { data: maybeNone.data, error: maybeNone.error },
      maybe_single_one: must(await mine().eq('notes', `${tag}-3`).maybeSingle(), 'maybeSingle'),
      count_exact: { count: exact.count, rows: must(exact, 'count').length },
      count_head: { count: head.count, data: head.data, status: head.status },
      range: { count: range.count, quantities: must(range, 'range').map((r) => r.quantity), status: range.status },
      update_select: { status: must(updated, 'update').status, count: updated.count },
      upsert_merge: merged.map((r) => r.payload),
      upsert_ignore: ignored.map((r) => [r.seq, r.payload]),
      ledger_after: after.map((r) => [r.seq, r.payload]),
      unknown_column: { status: unknown.status, code: unknown.error?.code, message: unknown.error?.message },
    },
  }
}

async function functions(p, d, created) {
  const target = created.rows[2]
  must(await d.from('prescriptions').update({ status: 'approved' }).eq('id', target.id), 'approve')
  const { data, error } = await p.functions.invoke('create-payment-intent', { body: { prescription_id: target.id } })
  return { error: error ? error.message : null, amount: data?.amount, price_cents: created.price_cents }
}

async function realtime(d, medicationId) {
  const note = `compat-js-rt-${randomUUID().slice(0, 12)}`
  let delivered
  const arrived = new Promise((resolve) => { delivered = resolve })
  const binding = { event: 'INSERT', schema: 'public', table: 'prescriptions', filter: `doctor_id=eq.${doctor.user_id}` }
  const channel = d.channel('compat-js-doctor').on('postgres_changes', binding, (payload) => {
    if (payload.new?.notes === note) delivered(payload)
  })
  const status = await within(EVENT_WAIT_MS, new Promise((resolve) => {
    channel.subscribe((state, error) => {
      if (state !== 'CLOSED') resolve(error ? `${state}: ${error.message}` : state)
    })
  }), 'subscribe')
  const other = await signedIn(otherPatient)
  must(await other.from('prescriptions')
    .insert({ medication_id: medicationId, doctor_id: doctor.user_id, notes: note }), 'insert by another account')
  const payload = await within(EVENT_WAIT_MS, arrived, 'postgres_changes INSERT')
  await d.removeAllChannels()
  await other.auth.signOut()
  return {
    vsn: d.realtime.vsn,
    status,
    eventType: payload.eventType,
    new_doctor_id: payload.new.doctor_id,
    new_notes_matches: payload.new.notes === note,
    commit_timestamp: payload.commit_timestamp,
  }
}

const p = await signedIn(patient)
const d = await signedIn(doctor)
const report = { auth: await auth() }
const created = await rest(p, d)
report.rest = created.report
report.functions = await functions(p, d, created)
report.realtime = await realtime(d, created.rows[0].medication_id)
await p.auth.signOut()
await d.auth.signOut()
process.stdout.write(JSON.stringify(report) + '\n')
process.exit(0)
