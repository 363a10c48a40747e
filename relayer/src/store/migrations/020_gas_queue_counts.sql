-- The gas budget's reservations as running counts per merchant instead of a count of its open commands (pending,
-- claimed or submitted) on every check. The count walked every open command's index entry and, the queue's
-- commands changing status three times each, as many dead entries again (84,000 entries for 3,000 open commands,
-- 24 ms); and the checks of a merchant ran one at a time under an advisory lock held across the accepting
-- transaction's six round trips, so a merchant's accepts were bounded by those round trips (about 100/s).
--
-- A merchant's open commands are `opened - released`:
--   merchant_gas_queue.opened       commands inserted open. The budget check takes this row for update in the
--                                   statement that checks and queues (an order's acceptance is one statement):
--                                   concurrent checks of a merchant run one after another, each reading the
--                                   row as the previous one committed it.
--   merchant_gas_released.released  open commands that closed (confirmed, failed), less closed ones that opened
--                                   again (a reorg, a run once more). Kept apart so that the writer settling a
--                                   batch never waits for, nor holds up, the merchant's acceptances. A check
--                                   reads it from its snapshot: a close it does not see yet leaves the
--                                   reservation in place (never an overspend).
-- Both are kept by the database whatever statement writes commands (a dozen transitions in several store
-- modules), once per statement (transition tables), not once per row.

-- No command is written between the copy below and the triggers that keep the counts after it (another relayer
-- process still running the previous version would otherwise change commands the copy misses); reads go on.
-- A long transaction of a process still running the previous version would hold every command write behind this
-- lock: give up after 10 s (the relayer says why it did not start) rather than stall the queue.
set local lock_timeout = '10s';
lock table commands in share row exclusive mode;
lock table merchants in share row exclusive mode;

create table merchant_gas_queue (
  merchant_id text primary key references merchants(id),
  opened bigint not null default 0
);
create table merchant_gas_released (
  merchant_id text primary key references merchants(id),
  released bigint not null default 0
);

insert into merchant_gas_queue (merchant_id, opened)
select m.id, (select count(*) from commands c
              where c.merchant_id = m.id and c.status in ('pending', 'claimed', 'submitted'))
from merchants m;
insert into merchant_gas_released (merchant_id) select id from merchants;

create function merchants_gas_queue_rows() returns trigger language plpgsql as $$
begin
  insert into merchant_gas_queue (merchant_id) select id from new_merchants;
  insert into merchant_gas_released (merchant_id) select id from new_merchants;
  return null;
end $$;
create trigger merchants_gas_queue_rows after insert on merchants
  referencing new table as new_merchants for each statement execute function merchants_gas_queue_rows();

-- Rows are updated in merchant order: two statements counting for the same merchants never deadlock.
create function commands_count_opened() returns trigger language plpgsql as $$
declare
  r record;
begin
  for r in
    select merchant_id, count(*) as n from new_commands
    where merchant_id is not null and status in ('pending', 'claimed', 'submitted')
    group by merchant_id order by merchant_id
  loop
    update merchant_gas_queue set opened = opened + r.n where merchant_id = r.merchant_id;
  end loop;
  return null;
end $$;
create trigger commands_count_opened after insert on commands
  referencing new table as new_commands for each statement execute function commands_count_opened();

create function commands_count_released() returns trigger language plpgsql as $$
declare
  r record;
begin
  for r in
    select x.merchant_id, sum(x.n) as n from (
      select merchant_id, 1 as n from old_commands
      where merchant_id is not null and status in ('pending', 'claimed', 'submitted')
      union all
      select merchant_id, -1 from new_commands
      where merchant_id is not null and status in ('pending', 'claimed', 'submitted')
    ) x
    group by x.merchant_id having sum(x.n) <> 0 order by x.merchant_id
  loop
    update merchant_gas_released set released = released + r.n where merchant_id = r.merchant_id;
  end loop;
  return null;
end $$;
create trigger commands_count_released_update after update on commands
  referencing old table as old_commands new table as new_commands
  for each statement execute function commands_count_released();
create function commands_count_deleted() returns trigger language plpgsql as $$
declare
  r record;
begin
  for r in
    select merchant_id, count(*) as n from old_commands
    where merchant_id is not null and status in ('pending', 'claimed', 'submitted')
    group by merchant_id order by merchant_id
  loop
    update merchant_gas_released set released = released + r.n where merchant_id = r.merchant_id;
  end loop;
  return null;
end $$;
create trigger commands_count_released_delete after delete on commands
  referencing old table as old_commands for each statement execute function commands_count_deleted();

-- Commands emptied by TRUNCATE (no row triggers run): nothing of any merchant is queued any more.
create function commands_count_truncated() returns trigger language plpgsql as $$
begin
  update merchant_gas_released r set released = q.opened
  from merchant_gas_queue q where q.merchant_id = r.merchant_id and r.released <> q.opened;
  return null;
end $$;
create trigger commands_count_truncated after truncate on commands
  for each statement execute function commands_count_truncated();
